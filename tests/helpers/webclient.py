"""A small cookie-keeping HTTP client for the page tests: it posts forms as a browser does
and follows no redirect, so each answer's status, headers and cookies can be checked."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import SimpleCookie
from urllib.parse import urlencode


@dataclass
class Answer:
    status: int
    headers: Message
    body: str
    set_cookies: list[str]

    def csrf(self) -> str:
        """The CSRF token of the first form on the page."""
        match = re.search(r'name="csrf" value="([^"]+)"', self.body)
        assert match, f"no CSRF field in the page:\n{self.body[:2000]}"
        return match.group(1)


@dataclass
class Client:
    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        set_cookies = resp.headers.get_all("Set-Cookie") or []
        for raw in set_cookies:
            jar: SimpleCookie = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        conn.close()
        return Answer(resp.status, resp.headers, data, set_cookies)

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, str]) -> Answer:
        return self.request("POST", path, urlencode(fields).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def sign_in(self, user: str, key: str) -> Answer:
        token = self.get("/-/signin").csrf()
        answer = self.post("/-/signin", {"csrf": token, "user": user, "key": key,
                                         "next": "/-/models"})
        assert answer.status == 303, answer.body
        return answer
