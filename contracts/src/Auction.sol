// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// An open auction: the highest bid wins, outbid bidders withdraw their
/// bids, and ending it pays the highest bid to the beneficiary.
contract Auction {
    address payable public immutable beneficiary;
    address public highestBidder;
    uint256 public highestBid;
    bool public ended;
    mapping(address => uint256) public pendingReturns;

    event HighestBidIncreased(address bidder, uint256 amount);
    event AuctionEnded(address winner, uint256 amount);

    constructor(address payable beneficiaryAddress) {
        beneficiary = beneficiaryAddress;
    }

    function bid() external payable {
        require(!ended, "The auction has ended.");
        require(msg.value > highestBid, "There already is a higher bid.");
        if (highestBid != 0) {
            pendingReturns[highestBidder] += highestBid;
        }
        highestBidder = msg.sender;
        highestBid = msg.value;
        emit HighestBidIncreased(msg.sender, msg.value);
    }

    function withdraw() external returns (bool) {
        uint256 amount = pendingReturns[msg.sender];
        if (amount > 0) {
            pendingReturns[msg.sender] = 0;
            payable(msg.sender).transfer(amount);
        }
        return true;
    }

    function end() external {
        require(msg.sender == beneficiary, "Only the beneficiary ends the auction.");
        require(!ended, "The auction has already ended.");
        ended = true;
        emit AuctionEnded(highestBidder, highestBid);
        beneficiary.transfer(highestBid);
    }
}
