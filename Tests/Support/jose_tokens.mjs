// panva's jose (Node) as an independent peer for viewer tokens, as pyjwt_tokens.py is for PyJWT.
//
// Input (JSON on stdin): {"hs_secret": b64url, "ed_seed": b64url, "mint": [{"alg", "kid"?, "claims"}],
// "verify": [{"alg", "token", "audience"}]}. Output: {"minted": [token...], "verified": [claims or {"error": str}]}.
// `node jose_tokens.mjs --version` prints the version of jose it loads (the tests' check that jose is there).
//
// jose is loaded as an app would (`import "jose"`), else from Debian's node-jose (/usr/share/nodejs/jose), which
// Node's ES module loader does not search by itself.
import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const debianJose = "/usr/share/nodejs/jose";

async function loadJose() {
    try {
        return { jose: await import("jose"), version: null };
    } catch (error) {
        if (error?.code !== "ERR_MODULE_NOT_FOUND") throw error;
    }
    let manifest;
    try {
        manifest = JSON.parse(readFileSync(`${debianJose}/package.json`, "utf8"));
    } catch {
        throw new Error(`jose not found: neither \`import "jose"\` nor ${debianJose} (apt-get install node-jose)`);
    }
    const entry = manifest.exports?.["."]?.import ?? "./dist/node/esm/index.js";
    return { jose: await import(pathToFileURL(`${debianJose}/${entry}`).href), version: manifest.version };
}

const { jose, version } = await loadJose();

if (process.argv[2] === "--version") {
    console.log(version ?? "jose (from node_modules)");
    process.exit(0);
}

const request = JSON.parse(readFileSync(0, "utf8"));

// The keys as an app holds them: JWKs, as in Usher's key file (an Ed25519 private JWK needs `x` too, derived here).
const seed = Buffer.from(request.ed_seed, "base64url");
const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
const edJWK = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ format: "jwk" });
const keys = {
    HS256: { private: await jose.importJWK({ kty: "oct", k: request.hs_secret }, "HS256") },
    EdDSA: {
        private: await jose.importJWK(edJWK, "EdDSA"),
        public: await jose.importJWK({ kty: edJWK.kty, crv: edJWK.crv, x: edJWK.x }, "EdDSA"),
    },
};
keys.HS256.public = keys.HS256.private;

const minted = [];
for (const spec of request.mint) {
    const header = { alg: spec.alg, typ: "JWT" };
    if (spec.kid) header.kid = spec.kid;
    minted.push(await new jose.SignJWT(spec.claims).setProtectedHeader(header).sign(keys[spec.alg].private));
}

const verified = [];
for (const spec of request.verify) {
    try {
        const { payload } = await jose.jwtVerify(spec.token, keys[spec.alg].public, {
            algorithms: [spec.alg],
            audience: spec.audience,
        });
        if (payload.exp === undefined) throw new Error("exp missing");
        verified.push(payload);
    } catch (error) {
        // The test reports whatever jose refused.
        verified.push({ error: `${error.name}: ${error.message}` });
    }
}

process.stdout.write(JSON.stringify({ minted, verified }));
