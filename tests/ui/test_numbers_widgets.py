"""The Internal Number Block section and the Auth tab, driven as an operator would."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QApplication
from sqlalchemy import func, select

from cxdesk.models import AuditEntry, NumberBlock, SipUser
from cxdesk.services import numbers, options, passwords
from cxdesk.services.uow import unit_of_work
from cxdesk.ui.numbers.numbers_widgets import AuthTab, NumberBlocksWidget, SipUserDialog


def snapshot(db):
    with db.read_session() as s:
        return (s.execute(select(NumberBlock.customer_id, NumberBlock.start).order_by(NumberBlock.start)).all(),
                s.execute(select(SipUser.username, SipUser.ha1, SipUser.enabled).order_by(SipUser.username)).all(),
                s.scalar(select(func.count()).select_from(AuditEntry)))


def texts(view, column=0):
    m = view.model()
    return [m.data(m.index(r, column)) for r in range(m.rowCount())]


def configure(ctx, start="2000", size="1000"):
    options.set_value(ctx.db, ctx.actor, "number-range-start", start)
    options.set_value(ctx.db, ctx.actor, "block-size", size)


@pytest.fixture
def acme(ctx, make_customer):
    return make_customer(ctx.db, "Acme Telecom")


@pytest.fixture
def blocks(ctx, acme, qtbot):
    w = NumberBlocksWidget(ctx)
    qtbot.addWidget(w)
    QAbstractItemModelTester(w.model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    QAbstractItemModelTester(w.proxy, QAbstractItemModelTester.FailureReportingMode.Fatal)
    w.set_customer(acme)
    return w


@pytest.fixture
def auth(ctx, acme, qtbot):
    w = AuthTab(ctx)
    qtbot.addWidget(w)
    QAbstractItemModelTester(w.model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    QAbstractItemModelTester(w.proxy, QAbstractItemModelTester.FailureReportingMode.Fatal)
    w.set_customer(acme)
    return w


def click(qtbot, button):
    assert button.isEnabled(), button.accessibleName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


# ---------------------------------------------------------------------------
# number blocks
# ---------------------------------------------------------------------------


def test_plus_explains_the_missing_options(ctx, blocks, answers, qtbot):
    assert blocks.add_button.accessibleName() == "Assign number block"
    assert blocks.explanation.isVisibleTo(blocks)
    assert "Internal Number Range Start and Internal Number Block Size are not set" in blocks.explanation.text()
    before = snapshot(ctx.db)
    click(qtbot, blocks.add_button)
    assert len(answers.infos) == 1 and "Settings > Options" in answers.infos[0]
    assert snapshot(ctx.db) == before
    options.set_value(ctx.db, ctx.actor, "number-range-start", "2000")
    ctx.bus.data_changed.emit("options")
    assert blocks.explanation.text().startswith("Internal Number Block Size is not set")
    options.set_value(ctx.db, ctx.actor, "block-size", "1000")
    ctx.bus.data_changed.emit("options")
    assert not blocks.explanation.isVisibleTo(blocks)


def test_plus_assigns_blocks_and_shows_their_ranges(ctx, blocks, answers, qtbot, acme):
    configure(ctx)
    blocks.reload()
    assert "No number block" in blocks.status.text()
    click(qtbot, blocks.add_button)
    assert texts(blocks.view) == ["2000-2999"]
    assert blocks.status.text().startswith("Assigned 2000-2999 (1,000 numbers).")
    click(qtbot, blocks.add_button)
    assert texts(blocks.view) == ["2000-2999", "3000-3999"]
    assert texts(blocks.view, 3) == ["1000", "1000"]  # Free
    assert blocks.selected().label == "3000-3999"
    assert answers.errors == []
    with ctx.db.read_session() as s:
        msgs = s.scalars(select(AuditEntry.message).where(AuditEntry.table_name == "number_blocks")).all()
    assert msgs == [f"Assigned number block 2000-2999 to customer {acme} (Acme Telecom)",
                    f"Assigned number block 3000-3999 to customer {acme} (Acme Telecom)"]


def test_release_asks_first_and_refuses_blocks_in_use(ctx, blocks, answers, qtbot, acme):
    configure(ctx)
    numbers.assign_block(ctx.db, ctx.actor, acme)
    numbers.assign_block(ctx.db, ctx.actor, acme)
    numbers.add_sip_user(ctx.db, ctx.actor, acme, "2100")
    blocks.reload()
    assert not blocks.release_button.isEnabled()  # nothing selected
    blocks.view.selectRow(0)
    assert blocks.selected().label == "2000-2999" and blocks.selected().in_use == 1
    assert not blocks.release_button.isEnabled()
    assert "in use" in blocks.release_button.toolTip()

    blocks.view.selectRow(1)
    before = snapshot(ctx.db)
    answers.confirm = False
    click(qtbot, blocks.release_button)
    assert "Release number block 3000-3999 from Acme Telecom?" in answers.questions[-1]
    assert snapshot(ctx.db) == before
    answers.confirm = True
    click(qtbot, blocks.release_button)
    assert texts(blocks.view) == ["2000-2999"]
    assert blocks.status.text().startswith("Released 3000-3999.")
    with ctx.db.read_session() as s:
        assert s.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)) == "DELETE"


def test_release_of_a_block_that_got_used_meanwhile_shows_the_reason(ctx, blocks, answers, qtbot, acme):
    configure(ctx)
    numbers.assign_block(ctx.db, ctx.actor, acme)
    blocks.reload()
    blocks.view.selectRow(0)
    numbers.add_sip_user(ctx.db, ctx.actor, acme, "2001")  # another workstation, meanwhile
    before = snapshot(ctx.db)
    click(qtbot, blocks.release_button)
    assert answers.errors and "still has 1 extension(s) in use (2001)" in answers.errors[0]
    assert snapshot(ctx.db) == before
    assert texts(blocks.view, 2) == ["1"]  # refreshed


def test_audit_comment_is_asked_when_the_option_is_on(ctx, blocks, answers, qtbot):
    configure(ctx)
    options.set_value(ctx.db, ctx.actor, "audit-comment", "on", comment="policy")
    answers.text = [None]
    before = snapshot(ctx.db)
    click(qtbot, blocks.add_button)
    assert snapshot(ctx.db) == before     # cancelled
    answers.text = ["new office"]
    click(qtbot, blocks.add_button)
    with ctx.db.read_session() as s:
        assert s.scalar(select(AuditEntry.comment).where(AuditEntry.table_name == "number_blocks")) == "new office"


def test_without_a_customer_nothing_can_be_done(ctx, qtbot):
    w = NumberBlocksWidget(ctx)
    qtbot.addWidget(w)
    w.set_customer(None)
    assert not w.add_button.isEnabled() and not w.release_button.isEnabled()
    a = AuthTab(ctx)
    qtbot.addWidget(a)
    a.set_customer(None)
    assert not a.add_button.isEnabled() and a.model.rowCount() == 0


# ---------------------------------------------------------------------------
# Auth tab
# ---------------------------------------------------------------------------


def open_add(auth, qtbot) -> SipUserDialog:
    click(qtbot, auth.add_button)
    dialog = auth.findChild(SipUserDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.addWidget(dialog)
    return dialog


def test_add_with_a_generated_password_shown_once(ctx, auth, qtbot, acme, monkeypatch):
    configure(ctx)
    numbers.assign_block(ctx.db, ctx.actor, acme)
    auth.reload()
    assert "2000-2999" in auth.blocks_label.text() and "last 3 digits" in auth.blocks_label.text()
    dialog = open_add(auth, qtbot)
    offered = [dialog.username.itemText(i) for i in range(dialog.username.count())]
    assert offered[:3] == ["2000", "2001", "2002"] and len(offered) == 200
    dialog.username.setCurrentText("")
    qtbot.keyClicks(dialog.username.lineEdit(), "2100")
    assert dialog.short.text() == "short 100"
    dialog.caller_id.setText("+441234567890")
    click(qtbot, dialog.save_button)

    assert dialog.error.isHidden()
    shown = dialog.generated.text()
    assert len(shown) >= 16 and dialog.result.isVisibleTo(dialog)
    assert "shown only now" in dialog.result_label.text()
    assert dialog.save_button.isHidden() and dialog.cancel_button.text() == "Close"
    click(qtbot, dialog.copy_button)
    assert QApplication.clipboard().text() == shown
    QApplication.clipboard().clear()
    with ctx.db.read_session() as s:
        ha1 = s.scalar(select(SipUser.ha1).where(SipUser.username == "2100"))
    assert ha1 == passwords.sip_ha1("2100", "cxdesk", shown)
    assert texts(auth.view) == ["2100"] and texts(auth.view, 1) == ["100"] and texts(auth.view, 2) == ["+441234567890"]
    click(qtbot, dialog.cancel_button)
    assert not dialog.isVisible() and dialog.generated.text() == ""   # gone with the dialog


def test_add_with_a_typed_password(ctx, auth, qtbot, acme):
    configure(ctx)
    numbers.assign_block(ctx.db, ctx.actor, acme)
    dialog = open_add(auth, qtbot)
    dialog.username.setCurrentText("2005")
    dialog.generate.setChecked(False)
    assert dialog.password.isEnabled()
    dialog.password.setText("Correct-Horse-9")
    dialog.again.setText("Correct-Horse-8")
    before = snapshot(ctx.db)
    click(qtbot, dialog.save_button)
    assert dialog.error.text() == "The two passwords differ; type them again."
    assert snapshot(ctx.db) == before
    dialog.again.setText("Correct-Horse-9")
    click(qtbot, dialog.save_button)
    assert not dialog.isVisible()
    with ctx.db.read_session() as s:
        assert s.scalar(select(SipUser.ha1).where(SipUser.username == "2005")) == \
            passwords.sip_ha1("2005", "cxdesk", "Correct-Horse-9")
    assert texts(auth.view, 1) == ["005"]


@pytest.mark.parametrize("username, message", [
    ("abc", "'abc' is not a number"),
    ("-2100", "-2100 is negative"),
    ("3100", "3100 is outside Acme Telecom's number block(s) (2000-2999)"),
    ("1000000000", "at most 9 digits"),
    ("2001", "Duplicate User Detected: 2001 is already used by customer {other} (Other Ltd)"),
    ("", "Type the extension"),
])
def test_bad_usernames_keep_the_form_and_change_nothing(ctx, auth, qtbot, acme, make_customer, username, message):
    configure(ctx)
    numbers.assign_block(ctx.db, ctx.actor, acme)
    other = make_customer(ctx.db, "Other Ltd")
    with unit_of_work(ctx.db, ctx.actor) as uow:  # held from before Acme's block existed
        uow.add(SipUser(customer_id=other, username="2001", ha1="0" * 32))
    dialog = open_add(auth, qtbot)
    dialog.username.setCurrentText(username)
    dialog.caller_id.setText("+4420")
    before = snapshot(ctx.db)
    click(qtbot, dialog.save_button)
    assert message.format(other=other) in dialog.error.text()
    assert dialog.isVisible() and dialog.username.currentText() == username and dialog.caller_id.text() == "+4420"
    assert dialog.save_button.isEnabled()
    assert snapshot(ctx.db) == before


def test_without_a_block_any_unused_number(ctx, auth, qtbot):
    dialog = open_add(auth, qtbot)
    assert dialog.username.count() == 0 and "any number that no one uses" in dialog.hint.text()
    dialog.username.setCurrentText("77")
    assert dialog.short.text() == ""
    click(qtbot, dialog.save_button)
    assert texts(auth.view) == ["77"] and texts(auth.view, 1) == [""]
    assert "No number block" in auth.blocks_label.text()


def test_disable_enable_and_delete(ctx, auth, qtbot, answers, acme):
    configure(ctx)
    numbers.assign_block(ctx.db, ctx.actor, acme)
    numbers.add_sip_user(ctx.db, ctx.actor, acme, "2100")
    auth.reload()
    auth.view.selectRow(0)
    assert auth.toggle_button.text() == "Disable"
    click(qtbot, auth.toggle_button)
    assert texts(auth.view, 3) == ["No"]
    auth.view.selectRow(0)
    assert auth.toggle_button.text() == "Enable"
    click(qtbot, auth.toggle_button)
    assert texts(auth.view, 3) == ["Yes"]

    auth.view.selectRow(0)
    answers.confirm = False
    before = snapshot(ctx.db)
    click(qtbot, auth.delete_button)
    assert "Delete SIP user 2100?" in answers.questions[-1]
    assert snapshot(ctx.db) == before
    answers.confirm = True
    click(qtbot, auth.delete_button)
    assert auth.model.rowCount() == 0
    assert answers.errors == []


def test_a_stale_row_shows_who_changed_it(ctx, auth, qtbot, answers, acme, supervisor):
    numbers.add_sip_user(ctx.db, ctx.actor, acme, "500")
    auth.reload()
    auth.view.selectRow(0)
    numbers.set_sip_enabled(ctx.db, supervisor, auth.selected().id, False)  # another operator
    before = snapshot(ctx.db)
    click(qtbot, auth.toggle_button)
    assert answers.errors and "SIP user 500 was changed by sup at" in answers.errors[0]
    assert snapshot(ctx.db) == before
    assert texts(auth.view, 3) == ["No"]  # reloaded


def test_blocks_assigned_elsewhere_refresh_the_auth_tab(ctx, auth, blocks, qtbot, acme):
    configure(ctx)
    click(qtbot, blocks.add_button)
    assert "2000-2999" in auth.blocks_label.text()
