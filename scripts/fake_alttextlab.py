"""A stand-in for the AltTextLab API on loopback, for local runs without an account.

It behaves as the service does for private S3 images: checks the x-api-key header and the
JSON body, fetches `imageUrl` (the presigned URL, from the local stack), and answers
{"id", "result"} with a caption that describes the bytes it fetched.

Usage: fake_alttextlab.py PORT API_KEY
"""

import json
import sys
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = "/api/v1/alt-text/generate"
STYLES = {"descriptive", "neutral", "matter-of-fact", "minimal"}


class Handler(BaseHTTPRequestHandler):
    api_key = ""

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path != PATH:
            return self.answer(404, {"message": "Not found"})
        if self.headers.get("x-api-key") != self.api_key:
            return self.answer(401, {"message": "Invalid API key"})
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            url, lang = body["imageUrl"], body["lang"]
        except (ValueError, KeyError, TypeError):
            return self.answer(400, {"message": "imageUrl and lang are required"})
        if "style" in body and body["style"] not in STYLES:
            return self.answer(400, {"message": "unknown style"})
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                image = response.read()
        except OSError:
            return self.answer(400, {"message": "Unable to fetch the image"})
        kind = {b"\xff": "JPEG", b"\x89": "PNG", b"R": "WebP"}.get(image[:1], "unknown")
        caption = f"A {kind} photograph of {len(image)} bytes."
        self.answer(200, {"id": f"atl_{uuid.uuid4().hex[:16]}", "result": caption, "lang": lang})

    def log_message(self, format: str, *args) -> None:  # keep presigned URLs out of the output
        pass


def main() -> int:
    port, Handler.api_key = int(sys.argv[1]), sys.argv[2]
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
