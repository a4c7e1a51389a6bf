// Compiles every contract in src/ with the pinned solc (package.json) and
// writes one artifact per contract to artifacts/<Name>.json: its ABI, init
// code and deployed code, and the SHA-256 of the source it came from, so a
// Rust test can tell a stale artifact without a compiler.
//
//   node compile.js          write the artifacts
//   node compile.js --check  compile and fail if any artifact differs
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const solc = require("solc");

// Cancun's opcodes run on every fork a chain can choose (cancun, prague,
// osaka), so one set of artifacts serves them all.
const EVM_VERSION = "cancun";
const check = process.argv.includes("--check");
const src = path.join(__dirname, "src");
const out = path.join(__dirname, "artifacts");

const sources = {};
for (const file of fs.readdirSync(src).filter((f) => f.endsWith(".sol")).sort()) {
  sources[file] = { content: fs.readFileSync(path.join(src, file), "utf8") };
}

function findImports(importPath) {
  const file = path.join(__dirname, "node_modules", importPath);
  if (!fs.existsSync(file)) return { error: `not found: ${importPath}` };
  return { contents: fs.readFileSync(file, "utf8") };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: EVM_VERSION,
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);

let stale = 0;
fs.mkdirSync(out, { recursive: true });
for (const file of Object.keys(sources)) {
  const sha256 = crypto.createHash("sha256").update(sources[file].content).digest("hex");
  for (const [name, contract] of Object.entries(output.contracts[file])) {
    const artifact = {
      contract: name,
      source: `src/${file}`,
      source_sha256: sha256,
      compiler: `solc ${solc.version()}`,
      evm_version: EVM_VERSION,
      abi: contract.abi,
      bytecode: "0x" + contract.evm.bytecode.object,
      deployed_bytecode: "0x" + contract.evm.deployedBytecode.object,
    };
    const text = JSON.stringify(artifact, null, 2) + "\n";
    const target = path.join(out, `${name}.json`);
    if (check) {
      if (!fs.existsSync(target) || fs.readFileSync(target, "utf8") !== text) {
        console.error(`stale: artifacts/${name}.json (run scripts/compile-contracts.sh)`);
        stale += 1;
      }
    } else {
      fs.writeFileSync(target, text);
    }
  }
}
if (stale > 0) process.exit(1);
console.error(check ? "artifacts are up to date" : `wrote artifacts for ${Object.keys(sources).length} sources`);
