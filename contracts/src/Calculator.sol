// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

contract Calculator {
    function add(uint256 a, uint256 b) external pure returns (uint256) {
        return a + b;
    }
}

/// Calls another contract.
contract CalculatorClient {
    function addThrough(Calculator calculator, uint256 a, uint256 b) external view returns (uint256) {
        return calculator.add(a, b);
    }

    uint256 public last;

    function addAndKeep(Calculator calculator, uint256 a, uint256 b) external returns (uint256) {
        last = calculator.add(a, b);
        return last;
    }
}
