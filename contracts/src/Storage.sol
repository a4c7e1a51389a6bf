// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// A number anyone can read and set.
contract Storage {
    uint256 private value;

    event Set(address indexed by, uint256 value);

    constructor() {
        value = 8888;
    }

    function get() external view returns (uint256) {
        return value;
    }

    function set(uint256 newValue) external {
        value = newValue;
        emit Set(msg.sender, newValue);
    }

    /// The value, if it is at least `minimum`; reverts with a reason otherwise.
    function atLeast(uint256 minimum) external view returns (uint256) {
        require(value >= minimum, "value is below the minimum");
        return value;
    }

    /// Loops until the gas runs out.
    function burn() external {
        while (true) {
            value += 1;
        }
    }
}
