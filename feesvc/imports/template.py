"""Import templates: the kind's headers, one example row, and a notes sheet saying what each column takes."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font

from feesvc.imports.kinds import ImportKind


def template_bytes(kind: ImportKind) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = kind.zh
    sheet.append([f.zh for f in kind.fields])
    sheet.append([f.example for f in kind.fields])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, f in enumerate(kind.fields, start=1):
        # Text cells: numbers typed into them stay as typed (a unit "0101", a phone, an amount's cents).
        sheet.cell(2, index).number_format = "@"
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = max(12, len(f.zh) * 3)
    sheet.freeze_panes = "A2"
    notes = book.create_sheet("说明")
    notes.append(["列", "Column", "必填 Required", "说明"])
    for f in kind.fields:
        notes.append([f.zh, f.en, "是 yes" if f.required else "否 no", f.note_zh])
    notes.append([])
    notes.append(["整个文件先校验；有任何错误则不写入任何数据。重复导入同一文件不会产生变化。"])
    notes.append(
        ["The whole file is checked first; with any problem nothing is written. Importing it again changes nothing."]
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
