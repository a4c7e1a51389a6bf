// Hardhat's defaults: the simulated network with its 20 funded accounts,
// automining every transaction as it arrives.
import { defineConfig } from "hardhat/config";

export default defineConfig({});
