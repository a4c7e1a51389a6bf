// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// An ERC-20 token (OpenZeppelin's), its whole supply minted to the deployer.
contract Token is ERC20 {
    constructor(uint256 supply) ERC20("Ledger Token", "LGT") {
        _mint(msg.sender, supply);
    }
}
