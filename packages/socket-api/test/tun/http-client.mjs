// Runs INSIDE the test namespace with the kernel's TCP: GET and POST 1 MiB against the
// netstack-ts http server at 198.18.0.2:8080 over the TUN link, then prints a JSON summary.
// Bounded: each request times out after 20 s and the script exits after 40 s regardless.
import http from "node:http";
import { createHash } from "node:crypto";

setTimeout(() => { console.error("client deadline"); process.exit(2); }, 40_000).unref();
const sha = (b) => createHash("sha256").update(b).digest("hex");
function request(method, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "198.18.0.2", port: 8080, path: "/x", method, timeout: 20_000 }, (res) => {
      const parts = [];
      res.on("data", (d) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(parts) }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body);
  });
}
const get = await request("GET");
const upload = Buffer.alloc(1 << 20, 0x5a);
const post = await request("POST", upload);
console.log(JSON.stringify({
  get: { status: get.status, n: get.body.length, sha: sha(get.body) },
  post: { status: post.status, reply: JSON.parse(post.body.toString()), sent: sha(upload) },
}));
