"""The printable PDF of an evaluation certificate (reportlab; Art. 10 mutual recognition).

Bilingual like the exports (Chinese first, English second), so the same file serves partner regions.
Chinese text uses reportlab's built-in CID font STSong-Light (Adobe-GB1, no font file to ship);
identifiers, hashes and the link use the standard Courier and Helvetica fonts. The page carries the
certificate's fields, its threshold checks and plain-language summary, a QR code and a link to the
public verification page, the certificate id, the signature and the SHA-256 fingerprint of the
platform key that signed it. The PDF is a rendering: the signed document is certificate.json.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

CJK_FONT = "STSong-Light"
QR_SIZE = 38 * mm


def local_time(value: Any) -> str:
    """The signed ISO time as people read it: in the platform's time zone, to the second, zone named."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.conf import settings

    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return str(value)
    return f"{moment.astimezone(ZoneInfo(settings.TIME_ZONE)):%Y-%m-%d %H:%M:%S} ({settings.TIME_ZONE})"


def _register_fonts() -> None:
    try:
        pdfmetrics.getFont(CJK_FONT)
    except KeyError:
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=CJK_FONT, fontSize=10, leading=14, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24, spaceAfter=2),
        "subtitle": ParagraphStyle("subtitle", fontName="Helvetica", fontSize=11, leading=14, spaceAfter=8),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=16, spaceBefore=10, spaceAfter=4),
        "body": base,
        "en": ParagraphStyle("en", fontName="Helvetica", fontSize=9, leading=12),
        "mono": ParagraphStyle("mono", fontName="Courier", fontSize=8, leading=10, wordWrap="CJK"),
        "alert": ParagraphStyle("alert", parent=base, textColor=colors.HexColor("#9b1c1c"), fontSize=12, leading=16),
    }


def qr_drawing(url: str, size: float = QR_SIZE) -> Drawing:
    """A QR code of `url` as a reportlab drawing (error correction M, like the HTML certificate's)."""
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def _verdict(passed: Any) -> str:
    if passed is True:
        return "通过 Passed"
    if passed is False:
        return "未通过 Not passed"
    return "未设阈值 No thresholds"


def _requirement(threshold: Any) -> str:
    if not isinstance(threshold, dict):
        return "—"
    return " ".join(f"{'≥' if k == 'min' else '≤' if k == 'max' else k} {v}" for k, v in threshold.items())


def _value(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else "—"


def render_certificate(payload: dict[str, Any], *, certificate_id: str, signature: str, key_fingerprint: str,
                       verify_url: str, revoked_reason: str | None = None, compress: bool = True) -> bytes:
    """The certificate as PDF bytes. `compress=False` leaves the content streams readable (tests)."""
    _register_fonts()
    s = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=f"Gaodi evaluation certificate {certificate_id}",
                            author="Gaodi", subject=verify_url, pageCompression=1 if compress else 0)

    def cjk(text: Any) -> Paragraph:
        return Paragraph(escape(str(text if text not in (None, "") else "—")), s["body"])

    def mono(text: Any) -> Paragraph:
        return Paragraph(escape(str(text if text not in (None, "") else "—")), s["mono"])

    story: list[Any] = [
        Paragraph("算法模型测试评估证书", s["title"]),
        Paragraph("Certificate of algorithm model testing and evaluation", s["subtitle"]),
    ]
    if revoked_reason is not None:
        story.append(Paragraph(f'本证书已撤销 <font name="Helvetica-Bold">REVOKED</font>：{escape(revoked_reason)}',
                               s["alert"]))
        story.append(Spacer(1, 4))
    organization = payload.get("organization") or {}
    institution = payload.get("institution") or {}
    model = payload.get("model_endpoint") or payload.get("model_sha256")
    rows = [
        [cjk("证书编号 Certificate No."), Paragraph(escape(certificate_id), ParagraphStyle(
            "id", fontName="Helvetica-Bold", fontSize=11, leading=14))],
        [cjk("备案编号 Filing No."), mono(payload.get("filing_number"))],
        [cjk("算法名称 Algorithm"), cjk(payload.get("algorithm"))],
        [cjk("申请企业 Enterprise"), cjk(organization.get("name"))],
        [cjk("检测评估机构 Testing institution"), cjk(institution.get("name"))],
        [cjk("结论 Verdict"), cjk(_verdict(payload.get("passed")))],
        [cjk("出具时间 Issued at"), mono(local_time(payload.get("issued_at")))],
        [cjk("预测接口 Endpoint" if payload.get("model_endpoint") else "模型 SHA-256 Model"), mono(model)],
        [cjk("数据 SHA-256 Test data"), mono(payload.get("data_sha256"))],
        [cjk("方案 SHA-256 Test plan"), mono(payload.get("plan_sha256"))],
        [cjk("结果 SHA-256 result.json"), mono(payload.get("result_sha256"))],
        [cjk("评估引擎 Engine"), mono(payload.get("engine_version"))],
    ]
    grid = TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey),
                       ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)])
    story.append(Table(rows, colWidths=[52 * mm, 122 * mm], style=grid))

    story.append(Paragraph("阈值检查 Threshold checks", s["h2"]))
    checks = payload.get("checks") or []
    table = [[cjk("指标 Metric"), cjk("范围 Scope"), cjk("值 Value"), cjk("要求 Requirement"), cjk("结果 Result")]]
    for c in checks:
        result = "通过 Passed" if c.get("passed") is True else "未通过 Failed" if c.get("passed") is False else "未评估"
        table.append([mono(c.get("metric")), cjk(c.get("scope")), mono(_value(c.get("value"))),
                      cjk(_requirement(c.get("threshold"))), cjk(result)])
    if not checks:
        table.append([cjk("方案未设阈值 The plan sets no thresholds"), "", "", "", ""])
    story.append(Table(table, colWidths=[46 * mm, 30 * mm, 24 * mm, 34 * mm, 40 * mm], repeatRows=1,
                       style=TableStyle([*grid.getCommands(), ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])))

    summary = payload.get("results_summary") or {}
    if summary.get("zh") or summary.get("en"):
        story.append(Paragraph("通俗说明 Plain-language summary", s["h2"]))
        story += [Paragraph(escape(line), s["body"]) for line in summary.get("zh", [])]
        story.append(Spacer(1, 4))
        story += [Paragraph(escape(line), s["en"]) for line in summary.get("en", [])]

    story.append(Paragraph("验证 Verification", s["h2"]))
    link = Paragraph(f'<a href="{escape(verify_url)}" color="blue">{escape(verify_url)}</a>', s["en"])
    verify = [
        cjk("扫码或访问以下地址，核验证书是否真实、未被篡改、未被撤销："),
        Paragraph("Scan the code or open this address to check that the certificate is genuine, unaltered and "
                  "not revoked:", s["en"]),
        link, Spacer(1, 4),
        cjk("签名 Signature (Ed25519, base64)"), mono(signature),
        cjk("平台公钥指纹 Platform key SHA-256"), mono(key_fingerprint),
    ]
    story.append(Table([[qr_drawing(verify_url), verify]], colWidths=[QR_SIZE + 6 * mm, 174 * mm - QR_SIZE - 6 * mm],
                       style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")])))
    doc.build(story)
    return buffer.getvalue()
