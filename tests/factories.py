"""Test data made by the tests (DESIGN: every file used in tests is made by the test or shipped)."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile


def minimal_pdf(text: str = "self assessment") -> bytes:
    """A small, valid one-page PDF (test data made by the test, per DESIGN)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def pdf_upload(name: str = "self-assessment.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, minimal_pdf(), content_type="application/pdf")


FILING_DATA = {
    "name": "商品个性化推荐算法",
    "category": "recommendation",
    "role": "provider",
    "scenarios": "电商平台首页与商品详情页的商品推荐",
    "domain": "电子商务",
    "principle": "基于用户浏览与购买记录的协同过滤与深度召回排序模型",
    "mechanism": "离线训练召回与排序模型，在线根据实时行为生成候选并排序展示，用户可关闭个性化推荐",
    "purpose": "帮助用户发现感兴趣的商品，提升购物效率",
    "products": "某某商城 App 首页推荐位；推荐 API /v1/recommend",
    "public_text": "本算法根据您在商城的浏览和购买记录，为您推荐可能感兴趣的商品。您可以在设置中关闭个性化推荐，关闭后将按销量展示商品。",
}
