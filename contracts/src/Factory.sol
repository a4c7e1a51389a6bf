// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

contract Child {
    uint256 public immutable tag;

    constructor(uint256 childTag) {
        tag = childTag;
    }
}

/// Deploys children with CREATE2 at addresses known in advance.
contract Factory {
    event Deployed(address child, bytes32 salt);

    function deploy(bytes32 salt, uint256 tag) external returns (address) {
        Child child = new Child{salt: salt}(tag);
        emit Deployed(address(child), salt);
        return address(child);
    }

    /// Deploys with CREATE: at keccak(rlp(factory, nonce)).
    function deployPlain(uint256 tag) external returns (address) {
        return address(new Child(tag));
    }
}
