"""What a browser is answered when a request fails: a page in Chinese, not problem+json.

A request whose Accept header prefers text/html to JSON (a browser following a link to the
board or the dashboard) gets the error as a small self-contained HTML page with the same status
and headers (Retry-After, Allow); API clients keep getting RFC 9457 problem+json.
"""

from __future__ import annotations

import json

from flask import Flask, Response, request
from markupsafe import escape

from shared.errors import PROBLEM_JSON

TITLES = {400: "请求有误", 401: "需要登录", 403: "无权访问", 404: "页面不存在",
          405: "不支持此操作", 409: "操作冲突", 412: "内容已被修改", 413: "内容过大",
          415: "格式不支持", 422: "内容有误", 429: "请求过于频繁", 500: "服务器出错",
          503: "服务暂时不可用", 504: "查询超时"}
ADVICE = {503: "数据库暂时无法连接，请稍后刷新重试。", 504: "数据库未能及时答复，请稍后刷新重试。",
          500: "服务器处理请求时出错，请稍后重试。"}
PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{status} {title}</title>
<style>body{{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:3em auto;
max-width:40em;padding:0 1em;color:#222}}h1{{color:#b22}}small{{color:#777}}</style></head>
<body><h1>{status} {title}</h1><p>{advice}</p><p><small>{detail}</small></p></body></html>
"""


def wants_html() -> bool:
    """The request prefers a page to JSON (a browser's Accept; none, or */*, is JSON)."""
    best = request.accept_mimetypes.best_match(["application/json", PROBLEM_JSON, "text/html"])
    return best == "text/html"


def error_pages(app: Flask) -> None:
    @app.after_request
    def _as_page(response: Response) -> Response:
        if response.status_code < 400 or response.mimetype != PROBLEM_JSON or not wants_html():
            return response
        body = json.loads(response.get_data(as_text=True))
        status = response.status_code
        page = Response(PAGE.format(
            status=status, title=TITLES.get(status, "请求未能完成"),
            advice=escape(ADVICE.get(status, "请检查地址或返回上一页。")),
            detail=escape(body.get("detail", ""))), status=status, mimetype="text/html")
        for name in ("Retry-After", "Allow", "WWW-Authenticate"):
            if name in response.headers:
                page.headers[name] = response.headers[name]
        return page
