// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// Reads what the chain tells a contract about blocks.
contract Blocks {
    bytes32 public recordedHash;
    uint256 public recordedNumber;
    uint256 public recordedTimestamp;
    address public recordedCoinbase;

    function previousHash() external view returns (bytes32) {
        return blockhash(block.number - 1);
    }

    function chainId() external view returns (uint256) {
        return block.chainid;
    }

    function record() external {
        recordedHash = blockhash(block.number - 1);
        recordedNumber = block.number;
        recordedTimestamp = block.timestamp;
        recordedCoinbase = block.coinbase;
    }
}
