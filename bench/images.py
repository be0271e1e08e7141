"""Benchmark of image preparation, run by bench/bench.py: test images made at run time (a
48 MP JPEG stored sideways with EXIF orientation 6 and a red marker in its upright top-left
corner, a 4000x3000 PNG with transparency, an animated GIF, a 30 MB TIFF, a 12 MP phone
JPEG), fakes of the four services sent bytes (Bedrock Converse, OpenAI chat completions,
AutoAlt, AltText.ai) that decode what they get and check it as the services do, and the
figures:

  - the 48 MP JPEG through the Bedrock fake: peak RSS, bytes and pixels received, the
    marker's corner, the time from the invocation to the request reaching the service;
  - bytes and pixels each service receives per image, before this function prepared images
    (the original, or nothing when the service's limits refused it) and now;
  - ten 48 MP JPEGs in one SQS batch at 256 MB: all captioned, peak RSS.
"""

import base64
import io
import json
import threading
import time

from PIL import Image

MARKER = (230, 20, 20)
BEDROCK_MAX = 3_932_160


def _upright(w: int, h: int, seed: int) -> Image.Image:
    """A photograph-like upright picture: gradients and noise, the red marker top left."""
    base = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    noise = Image.effect_noise((w, h), 40).convert("RGB")
    tint = Image.new("RGB", (w, h), (40 + seed % 50, 90, 140))
    picture = Image.blend(Image.blend(base, tint, 0.4), noise, 0.25)
    picture.paste(MARKER, (0, 0, w // 8, h // 8))
    return picture


def _jpeg(picture: Image.Image, orientation: int | None = None, quality: int = 92) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    picture.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def make_images() -> dict[str, tuple[bytes, str]]:
    """The test images by key, with their content types."""
    # Shown 6000 x 8000; stored turned 90 degrees anticlockwise, as a phone held upright
    # stores it, with orientation 6 ("turn clockwise to show").
    stored = _upright(6000, 8000, 1).rotate(90, expand=True)
    big = _jpeg(stored, orientation=6)
    phone = _jpeg(_upright(4000, 3000, 2), quality=90)
    clear = _upright(4000, 3000, 3).convert("RGBA")
    alpha = Image.new("L", clear.size, 255)
    alpha.paste(0, (2000, 1500, 4000, 3000))
    clear.putalpha(alpha)
    png = io.BytesIO()
    clear.save(png, "PNG")
    frames = [Image.new("RGB", (1200, 900), c) for c in (MARKER, (20, 20, 230), (20, 230, 20))]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    tiff = io.BytesIO()
    _upright(3200, 3200, 4).save(tiff, "TIFF")  # uncompressed: 30 MB
    return {
        "img/48mp.jpg": (big, "image/jpeg"),
        "img/phone.jpg": (phone, "image/jpeg"),
        "img/clear.png": (png.getvalue(), "image/png"),
        "img/moving.gif": (gif.getvalue(), "image/gif"),
        "img/scan.tiff": (tiff.getvalue(), "image/tiff"),
    }


def upright_marker(picture: Image.Image) -> bool:
    """The red marker is in the top-left corner and no other."""
    rgb = picture.convert("RGB")
    w, h = rgb.size

    def red(x, y):
        r, g, b = rgb.getpixel((x, y))
        return r > 180 and g < 80 and b < 80

    corners = [red(w // 32, h // 32), red(w - w // 32, h // 32), red(w // 32, h - h // 32), red(w - w // 32, h - h // 32)]
    return corners == [True, False, False, False]


# What each service took before images were prepared: formats, bytes, pixels a side.
OLD_LIMITS = {
    "bedrock": ({"JPEG", "PNG", "GIF", "WEBP"}, BEDROCK_MAX, 8000),
    "openai": ({"JPEG", "PNG", "GIF", "WEBP"}, 16 << 20, 10**9),
    "autoalt": ({"JPEG", "PNG", "GIF", "WEBP"}, 16 << 20, 10**9),
    "alttextai": ({"JPEG", "PNG", "GIF", "WEBP", "BMP"}, 16 << 20, 10**9),
}


def sent_before(service: str, data: bytes) -> tuple[int, int] | None:
    """Bytes and pixels the function sent before it prepared images; None if it declined."""
    formats, max_bytes, max_side = OLD_LIMITS[service]
    with Image.open(io.BytesIO(data)) as im:
        if im.format not in formats or len(data) > max_bytes or max(im.size) > max_side:
            return None
        return len(data), im.size[0] * im.size[1]


class ImageFakes:
    """The four services sent bytes, on one port: each checks its request as the service does
    (Bedrock's SigV4 header, the others' keys), decodes the image it got, refuses what the
    service refuses (Bedrock: over 3.75 MB or 8000 px), and notes what it received."""

    def __init__(self, api_key: str, quiet_server, quiet_handler):
        self.received: list[dict] = []
        fakes = self

        class Handler(quiet_handler):
            def do_POST(self):
                arrived = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                service, data, limit = self.image_of(body)
                note = {"service": service, "arrived": arrived, "bytes": len(data)}
                with Image.open(io.BytesIO(data)) as im:
                    note.update(format=im.format, size=im.size, upright=upright_marker(im))
                fakes.received.append(note)
                if len(data) > limit or (service == "bedrock" and max(note["size"]) > 8000):
                    return self.reply(400, {"__type": "ValidationException", "message": "image over the limits"})
                text = f"A {note['format']} photograph of {len(data)} bytes."
                self.reply(200, self.answer(service, text))

            def image_of(self, body):
                if self.path.startswith("/model/"):
                    auth = self.headers.get("Authorization", "")
                    assert auth.startswith("AWS4-HMAC-SHA256 Credential=") and "/bedrock/aws4_request" in auth, auth
                    block = next(b for b in body["messages"][0]["content"] if "image" in b)
                    return "bedrock", base64.b64decode(block["image"]["source"]["bytes"]), BEDROCK_MAX
                if self.path == "/v1/chat/completions":
                    assert self.headers.get("Authorization") == f"Bearer {api_key}"
                    part = next(p for p in body["messages"][0]["content"] if p["type"] == "image_url")
                    return "openai", base64.b64decode(part["image_url"]["url"].split(";base64,", 1)[1]), 20 << 20
                if self.path == "/api/v1/images":
                    assert self.headers.get("X-API-Key") == api_key
                    return "alttextai", base64.b64decode(body["image"]["raw"]), 16_000_000
                assert self.headers.get("Authorization") == f"Bearer {api_key}"
                return "autoalt", base64.b64decode(body["image"]), 16_000_000

            def answer(self, service, text):
                if service == "bedrock":
                    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                            "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
                            "metrics": {"latencyMs": 1}}
                if service == "openai":
                    return {"id": "chatcmpl-b", "object": "chat.completion", "model": "m",
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
                if service == "alttextai":
                    return {"asset_id": "a1", "alt_text": text}
                return {"success": True, "results": [{"alt_text": text, "success": True}]}

            def reply(self, status, answer):
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status != 200:
                    self.send_header("x-amzn-ErrorType", answer.get("__type", ""))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = quiet_server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def service_env(service: str, url: str, api_key: str) -> dict:
    """The function's settings for one service sent bytes, at the fake's `url`."""
    if service == "bedrock":
        return {"ALT_TEXT_PROVIDER": "bedrock", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url}
    env = {"ALT_TEXT_PROVIDER": service, "ALT_TEXT_API_KEY": api_key, "ALT_TEXT_API_URL": url}
    if service == "openai":
        env["OPENAI_IMAGE_INPUT"] = "data"
    if service == "alttextai":
        env["ALTTEXTAI_IMAGE_INPUT"] = "data"
    return env
