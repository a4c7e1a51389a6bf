// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// Holds value, reports its own balance, pays it out, and can destroy
/// itself (from Cancun on, SELFDESTRUCT only sends the balance away).
contract Wallet {
    address public immutable owner;

    constructor() payable {
        owner = msg.sender;
    }

    receive() external payable {}

    function ownBalance() external view returns (uint256) {
        return address(this).balance;
    }

    function pay(address payable to, uint256 amount) external {
        require(msg.sender == owner, "only the owner pays");
        to.transfer(amount);
    }

    function destroy(address payable to) external {
        require(msg.sender == owner, "only the owner destroys");
        selfdestruct(to);
    }
}
