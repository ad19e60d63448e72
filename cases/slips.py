"""The one-stop slips, as PDF in Vietnamese: the receipt with its appointment date
(phiếu tiếp nhận hồ sơ và hẹn trả kết quả) and the apology with a new date (phiếu xin lỗi
và hẹn lại ngày trả kết quả). fpdf2 with the bundled DejaVu Sans, which carries every
Vietnamese letter. A slip is an official paper: it is Vietnamese whatever the language of
the request or of the officer who issues it, so every slip is drawn under `_official`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ParamSpec

from django.utils import translation
from fpdf import FPDF

from cases.models import Case, Document, DocumentKind

FONTS = Path(__file__).resolve().parent / "fonts"
HEADER = ("UBND TỈNH", "SỞ KHOA HỌC VÀ CÔNG NGHỆ")
NATION = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")

P = ParamSpec("P")


def _official(draw: Callable[P, bytes]) -> Callable[P, bytes]:
    """Draw a slip in Vietnamese: the labels it takes from the catalogue (document kinds)
    would otherwise follow the request's language."""

    @functools.wraps(draw)
    def in_vietnamese(*args: P.args, **kwargs: P.kwargs) -> bytes:
        with translation.override("vi"):
            return draw(*args, **kwargs)

    return in_vietnamese


def vietnamese_date(day: dt.date) -> str:
    return f"ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"


def _document(title: str, issued_on: dt.date) -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_creator("IP Support Case Manager")
    pdf.set_title(title)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans-vi.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold-vi.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(80, 5, HEADER[0], align="C")
    pdf.cell(0, 5, NATION[0], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(80, 5, HEADER[1], align="C")
    pdf.cell(0, 5, NATION[1], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.cell(0, 8, f"Ngày lập: {vietnamese_date(issued_on)}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 8, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 11)
    return pdf


def _line(pdf: FPDF, label: str, value: str) -> None:
    pdf.set_font("DejaVu", "B", 11)
    pdf.write(7, f"{label}: ")
    pdf.set_font("DejaVu", "", 11)
    pdf.write(7, value)
    pdf.ln(8)


def _case_lines(pdf: FPDF, case: Case) -> None:
    _line(pdf, "Mã hồ sơ", case.reference or "")
    _line(pdf, "Tổ chức, doanh nghiệp", f"{case.enterprise.name} (MST {case.enterprise.tax_code})")
    _line(pdf, "Địa chỉ", f"{case.enterprise.address}, {case.enterprise.ward_name}, {case.enterprise.province_name}")
    _line(pdf, "Nội dung đề nghị hỗ trợ", case.title)


@_official
def receipt_slip(*, case: Case, documents: Iterable[Document], received_on: dt.date, due_on: dt.date) -> bytes:
    pdf = _document("PHIẾU TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", received_on)
    _case_lines(pdf, case)
    _line(pdf, "Ngày tiếp nhận", vietnamese_date(received_on))
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 8, "Thành phần hồ sơ đã nhận:", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 11)
    listed = list(documents)
    for number, document in enumerate(listed, start=1):
        label = DocumentKind(document.kind).label
        pdf.multi_cell(0, 6, f"{number}. {label}: {document.original_name}", new_x="LMARGIN", new_y="NEXT")
    if not listed:
        pdf.multi_cell(0, 6, "(Hồ sơ giấy, không có tệp điện tử kèm theo)", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _line(pdf, "Ngày hẹn trả kết quả", vietnamese_date(due_on))
    pdf.multi_cell(
        0,
        6,
        "Thời hạn giải quyết tính theo ngày làm việc, không kể thời gian tổ chức, doanh nghiệp "
        "bổ sung hồ sơ theo yêu cầu.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())


@_official
def apology_slip(*, case: Case, issued_on: dt.date, previous_due_on: dt.date, due_on: dt.date, reason: str) -> bytes:
    pdf = _document("PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ", issued_on)
    _case_lines(pdf, case)
    _line(pdf, "Ngày hẹn trả kết quả trước đây", vietnamese_date(previous_due_on))
    pdf.multi_cell(
        0,
        6,
        "Sở Khoa học và Công nghệ xin lỗi tổ chức, doanh nghiệp vì chưa trả kết quả giải quyết "
        "hồ sơ đúng hẹn. Lý do: " + reason,
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    _line(pdf, "Ngày hẹn trả kết quả mới", vietnamese_date(due_on))
    return bytes(pdf.output())
