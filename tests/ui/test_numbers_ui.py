"""The Internal Number Block section and the Auth tab, driven as an operator would.

Service calls made by the test itself stand for another writer (another window or
workstation): their commits reach the views only through the published change sets."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTabWidget, QWidget
from sqlalchemy import func, select

from cxdesk.models import AuditEntry, NumberBlock, Option, SipUser
from cxdesk.services import numbers, options, passwords
from cxdesk.services.uow import unit_of_work
from cxdesk.ui.numbers.blocks import NumberBlocksWidget
from cxdesk.ui.numbers.sip_users import AuthTab, SipUserDialog


def snapshot(db):
    with db.read_session() as s:
        return (s.execute(select(NumberBlock.customer_id, NumberBlock.start).order_by(NumberBlock.start)).all(),
                s.execute(select(SipUser.username, SipUser.ha1, SipUser.enabled).order_by(SipUser.username)).all(),
                s.scalar(select(func.count()).select_from(AuditEntry)))


def texts(view, column=0):
    m = view.model()
    return [m.data(m.index(r, column)) for r in range(m.rowCount())]


def configure(db, actor, start="2000", size="1000"):
    options.set_value(db, actor, "number-range-start", start)
    options.set_value(db, actor, "block-size", size)


@contextmanager
def reloaded(qtbot, *panels):
    """What the block does must make each panel load again (a change set, or a refusal)."""
    before = [p.loads for p in panels]
    yield
    qtbot.waitUntil(lambda: all(p.loads > n and not p.stale for p, n in zip(panels, before)))


def click(qtbot, button):
    assert button.isEnabled(), button.accessibleName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def gone(qtbot, widget):
    qtbot.waitUntil(lambda: not shiboken6.isValid(widget))


@pytest.fixture
def acme(sqlite_db, make_customer):
    return make_customer(sqlite_db, "Acme Telecom")


def shown(qtbot, model_tester, widget, customer_id):
    qtbot.addWidget(widget)
    model_tester(widget.model)
    model_tester(widget.proxy)
    widget.set_customer(customer_id)
    widget.show()
    qtbot.waitUntil(lambda: widget.loads >= 1 and not widget.stale)
    return widget


@pytest.fixture
def blocks(ctx, acme, qtbot, model_tester):
    return shown(qtbot, model_tester, NumberBlocksWidget(ctx), acme)


@pytest.fixture
def auth(ctx, acme, qtbot, model_tester):
    return shown(qtbot, model_tester, AuthTab(ctx), acme)


# ---------------------------------------------------------------------------
# number blocks
# ---------------------------------------------------------------------------


def test_plus_explains_the_missing_options(sqlite_db, admin, blocks, answers, qtbot):
    assert blocks.add_button.accessibleName() == "Assign number block"
    assert blocks.explanation.isVisibleTo(blocks)
    assert "Internal Number Range Start and Internal Number Block Size are not set" in blocks.explanation.text()
    assert blocks.add_button.toolTip() == blocks.explanation.text()
    before = snapshot(sqlite_db)
    click(qtbot, blocks.add_button)
    assert len(answers.infos) == 1 and "Settings > Options" in answers.infos[0]
    assert snapshot(sqlite_db) == before
    with reloaded(qtbot, blocks):
        options.set_value(sqlite_db, admin, "number-range-start", "2000")
    assert blocks.explanation.text().startswith("Internal Number Block Size is not set")
    with reloaded(qtbot, blocks):
        options.set_value(sqlite_db, admin, "block-size", "1000")
    assert not blocks.explanation.isVisibleTo(blocks)
    assert blocks.add_button.toolTip() == "Assign the next free number block"


def test_plus_assigns_blocks_and_shows_their_ranges(sqlite_db, admin, blocks, answers, qtbot, acme):
    with reloaded(qtbot, blocks):
        configure(sqlite_db, admin)
    assert "No number block" in blocks.status.text()
    with reloaded(qtbot, blocks):
        click(qtbot, blocks.add_button)
    assert texts(blocks.view) == ["2000-2999"]
    assert blocks.status.text().startswith("Assigned 2000-2999 (1,000 numbers).")
    with reloaded(qtbot, blocks):
        click(qtbot, blocks.add_button)
    assert texts(blocks.view) == ["2000-2999", "3000-3999"]
    assert texts(blocks.view, 3) == ["1000", "1000"]  # Free
    assert blocks.selected().label == "3000-3999"     # the new one
    assert blocks.add_button.isEnabled()
    assert answers.errors == []
    with sqlite_db.read_session() as s:
        msgs = s.scalars(select(AuditEntry.message).where(AuditEntry.table_name == "number_blocks")).all()
    assert msgs == [f"Assigned number block 2000-2999 to customer {acme} (Acme Telecom)",
                    f"Assigned number block 3000-3999 to customer {acme} (Acme Telecom)"]


def test_release_asks_first_and_refuses_blocks_in_use(sqlite_db, admin, blocks, answers, qtbot, acme):
    with reloaded(qtbot, blocks):
        configure(sqlite_db, admin)
        numbers.assign_block(sqlite_db, admin, acme)
        numbers.assign_block(sqlite_db, admin, acme)
        numbers.add_sip_user(sqlite_db, admin, acme, "2100")
    assert not blocks.release_button.isEnabled()  # nothing selected
    blocks.view.selectRow(0)
    assert blocks.selected().label == "2000-2999" and blocks.selected().in_use == 1
    assert not blocks.release_button.isEnabled()
    assert blocks.release_button.toolTip().startswith("1 extension of 2000-2999 is in use;")

    blocks.view.selectRow(1)
    assert blocks.release_button.toolTip().startswith("Give 3000-3999 back")
    before = snapshot(sqlite_db)
    answers.confirm = False
    click(qtbot, blocks.release_button)
    assert "Release number block 3000-3999 from Acme Telecom?" in answers.questions[-1]
    assert snapshot(sqlite_db) == before
    answers.confirm = True
    with reloaded(qtbot, blocks):
        click(qtbot, blocks.release_button)
    assert texts(blocks.view) == ["2000-2999"]
    assert blocks.status.text().startswith("Released 3000-3999.")
    with sqlite_db.read_session() as s:
        assert s.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)) == "DELETE"


def test_in_use_counts_read_right(sqlite_db, admin, blocks, qtbot, acme):
    with reloaded(qtbot, blocks):
        configure(sqlite_db, admin)
        numbers.assign_block(sqlite_db, admin, acme)
        numbers.add_sip_user(sqlite_db, admin, acme, "2100")
        numbers.add_sip_user(sqlite_db, admin, acme, "2101")
    blocks.view.selectRow(0)
    assert blocks.release_button.toolTip() == (
        "2 extensions of 2000-2999 are in use; delete those SIP users on the Auth tab first")
    assert "extension(s)" not in blocks.release_button.toolTip()


def test_release_of_a_block_that_got_used_meanwhile_shows_the_reason(sqlite_db, admin, blocks, answers, qtbot, acme):
    with reloaded(qtbot, blocks):
        configure(sqlite_db, admin)
        numbers.assign_block(sqlite_db, admin, acme)
    blocks.view.selectRow(0)
    numbers.add_sip_user(sqlite_db, admin, acme, "2001")  # another workstation, meanwhile
    before = snapshot(sqlite_db)
    blocks.release()  # at once, before that change reaches the view
    assert answers.errors and "still has 1 extension(s) in use (2001)" in answers.errors[0]
    assert snapshot(sqlite_db) == before
    qtbot.waitUntil(lambda: texts(blocks.view, 2) == ["1"])  # refreshed


def test_audit_comment_is_asked_when_the_option_is_on(sqlite_db, admin, blocks, answers, qtbot):
    with reloaded(qtbot, blocks):
        configure(sqlite_db, admin)
        options.set_value(sqlite_db, admin, "audit-comment", "on", comment="policy")
    answers.text = [None]
    before = snapshot(sqlite_db)
    click(qtbot, blocks.add_button)
    assert snapshot(sqlite_db) == before     # cancelled
    assert answers.questions[-1] == "Reason for assigning a number block (recorded in the audit log):"
    assert blocks.add_button.isEnabled()     # usable again
    answers.text = ["new office"]
    with reloaded(qtbot, blocks):
        click(qtbot, blocks.add_button)
    with sqlite_db.read_session() as s:
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
    qtbot.waitUntil(lambda: dialog.loaded)
    return dialog


def test_add_with_a_generated_password_shown_once(sqlite_db, admin, auth, qtbot, acme):
    with reloaded(qtbot, auth):
        configure(sqlite_db, admin)
        numbers.assign_block(sqlite_db, admin, acme)
    assert auth.blocks_label.text() == (
        "Extensions come from the number block 2000-2999; the short extension is the last 3 digits.")
    dialog = open_add(auth, qtbot)
    assert dialog.hint.text() == "Numbers from the number block 2000-2999."
    offered = [dialog.username.itemText(i) for i in range(dialog.username.count())]
    assert offered[:3] == ["2000", "2001", "2002"] and len(offered) == 200
    dialog.username.setCurrentText("")
    qtbot.keyClicks(dialog.username.lineEdit(), "2100")
    assert dialog.short.text() == "short 100"
    dialog.caller_id.setText("+441234567890")
    with reloaded(qtbot, auth):
        click(qtbot, dialog.save_button)

    assert dialog.error.isHidden()
    shown_password = dialog.generated.text()
    assert len(shown_password) >= 16 and dialog.result.isVisibleTo(dialog)
    assert "shown only now" in dialog.result_label.text()
    assert dialog.save_button.isHidden() and dialog.cancel_button.text() == "Close"
    click(qtbot, dialog.copy_button)
    assert QApplication.clipboard().text() == shown_password
    QApplication.clipboard().clear()
    with sqlite_db.read_session() as s:
        ha1 = s.scalar(select(SipUser.ha1).where(SipUser.username == "2100"))
    assert ha1 == passwords.sip_ha1("2100", "cxdesk", shown_password)
    assert texts(auth.view) == ["2100"] and texts(auth.view, 1) == ["100"] and texts(auth.view, 2) == ["+441234567890"]
    at_close: list[str] = []
    dialog.finished.connect(lambda _r: at_close.append(dialog.generated.text()))
    click(qtbot, dialog.cancel_button)
    assert at_close == [""]  # cleared as the dialog closes...
    gone(qtbot, dialog)      # ...and the dialog is deleted


def test_add_with_a_typed_password(sqlite_db, admin, auth, qtbot, acme):
    with reloaded(qtbot, auth):
        configure(sqlite_db, admin)
        numbers.assign_block(sqlite_db, admin, acme)
    dialog = open_add(auth, qtbot)
    dialog.username.setCurrentText("2005")
    dialog.generate.setChecked(False)
    assert dialog.password.isEnabled()
    dialog.password.setText("Correct-Horse-9")
    dialog.again.setText("Correct-Horse-8")
    before = snapshot(sqlite_db)
    click(qtbot, dialog.save_button)
    assert dialog.error.text() == "The two passwords differ; type them again."
    assert snapshot(sqlite_db) == before
    dialog.again.setText("Correct-Horse-9")
    with reloaded(qtbot, auth):
        click(qtbot, dialog.save_button)
    gone(qtbot, dialog)
    with sqlite_db.read_session() as s:
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
def test_bad_usernames_keep_the_form_and_change_nothing(sqlite_db, admin, auth, qtbot, acme, make_customer,
                                                        username, message):
    configure(sqlite_db, admin)
    numbers.assign_block(sqlite_db, admin, acme)
    other = make_customer(sqlite_db, "Other Ltd")
    with unit_of_work(sqlite_db, admin) as uow:  # held from before Acme's block existed
        uow.add(SipUser(customer_id=other, username="2001", ha1="0" * 32))
    dialog = open_add(auth, qtbot)
    dialog.username.setCurrentText(username)
    dialog.caller_id.setText("+4420")
    before = snapshot(sqlite_db)
    click(qtbot, dialog.save_button)
    assert message.format(other=other) in dialog.error.text()
    assert dialog.isVisible() and dialog.username.currentText() == username and dialog.caller_id.text() == "+4420"
    assert dialog.save_button.isEnabled()
    assert snapshot(sqlite_db) == before


def test_without_a_block_any_unused_number(auth, qtbot):
    assert auth.blocks_label.text() == "No number block: SIP users may take any extension that no one uses yet."
    dialog = open_add(auth, qtbot)
    assert dialog.username.count() == 0 and "any number that no one uses" in dialog.hint.text()
    dialog.username.setCurrentText("77")
    assert dialog.short.text() == ""
    with reloaded(qtbot, auth):
        click(qtbot, dialog.save_button)
    assert texts(auth.view) == ["77"] and texts(auth.view, 1) == [""]


def test_several_blocks_read_right(sqlite_db, admin, auth, qtbot, acme):
    with reloaded(qtbot, auth):
        configure(sqlite_db, admin)
        numbers.assign_block(sqlite_db, admin, acme)
        numbers.assign_block(sqlite_db, admin, acme)
    assert auth.blocks_label.text().startswith("Extensions come from the number blocks 2000-2999, 3000-3999;")
    dialog = open_add(auth, qtbot)
    assert dialog.hint.text() == "Numbers from the number blocks 2000-2999, 3000-3999."
    dialog.reject()
    gone(qtbot, dialog)


def test_disable_enable_and_delete(sqlite_db, admin, auth, qtbot, answers, acme):
    with reloaded(qtbot, auth):
        configure(sqlite_db, admin)
        numbers.assign_block(sqlite_db, admin, acme)
        numbers.add_sip_user(sqlite_db, admin, acme, "2100")
    auth.view.selectRow(0)
    assert auth.toggle_button.text() == "Disable"
    with reloaded(qtbot, auth):
        click(qtbot, auth.toggle_button)
    assert texts(auth.view, 3) == ["No"]
    assert auth.selected().username == "2100"  # still selected after the reload
    assert auth.toggle_button.text() == "Enable"
    with reloaded(qtbot, auth):
        click(qtbot, auth.toggle_button)
    assert texts(auth.view, 3) == ["Yes"]

    auth.view.selectRow(0)
    answers.confirm = False
    before = snapshot(sqlite_db)
    click(qtbot, auth.delete_button)
    assert "Delete SIP user 2100?" in answers.questions[-1]
    assert snapshot(sqlite_db) == before
    answers.confirm = True
    with reloaded(qtbot, auth):
        click(qtbot, auth.delete_button)
    assert auth.model.rowCount() == 0
    assert not auth.delete_button.isEnabled()
    assert answers.errors == []


def test_a_stale_row_shows_who_changed_it(sqlite_db, admin, auth, qtbot, answers, acme, supervisor):
    with reloaded(qtbot, auth):
        numbers.add_sip_user(sqlite_db, admin, acme, "500")
    auth.view.selectRow(0)
    numbers.set_sip_enabled(sqlite_db, supervisor, auth.selected().id, False)  # another operator
    before = snapshot(sqlite_db)
    auth.toggle_enabled()  # at once, before that change reaches the view
    assert answers.errors and "SIP user 500 was changed by sup at" in answers.errors[0]
    assert snapshot(sqlite_db) == before
    qtbot.waitUntil(lambda: texts(auth.view, 3) == ["No"])  # reloaded


def test_blocks_assigned_here_refresh_the_auth_tab(sqlite_db, admin, auth, blocks, qtbot):
    with reloaded(qtbot, blocks):
        configure(sqlite_db, admin)
    with reloaded(qtbot, auth, blocks):
        click(qtbot, blocks.add_button)
    assert "2000-2999" in auth.blocks_label.text()


# ---------------------------------------------------------------------------
# the real asynchronous operations layer
# ---------------------------------------------------------------------------


class Gate:
    """Monkeypatched into a service function: the worker waits there until the test opens."""

    def __init__(self, monkeypatch, name: str) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()
        real = getattr(numbers, name)

        def gated(*args, **kwargs):
            self.entered.set()
            assert self.open.wait(10), "the test never opened the gate"
            return real(*args, **kwargs)

        monkeypatch.setattr(numbers, name, gated)


def record_calls(monkeypatch, cls, *names) -> list[str]:
    calls: list[str] = []
    for name in names:
        real = getattr(cls, name)
        monkeypatch.setattr(cls, name, lambda self, *a, _n=name, _r=real: (calls.append(_n), _r(self, *a)))
    return calls


def test_data_arrives_asynchronously(threaded_ctx, sqlite_db, admin, acme, qtbot, model_tester):
    configure(sqlite_db, admin)
    numbers.assign_block(sqlite_db, admin, acme)
    numbers.add_sip_user(sqlite_db, admin, acme, "2100")
    blocks = NumberBlocksWidget(threaded_ctx)
    auth = AuthTab(threaded_ctx)
    for w in (blocks, auth):
        qtbot.addWidget(w)
        model_tester(w.model)
        model_tester(w.proxy)
        w.set_customer(acme)
        w.show()
    assert blocks.loads == 0 and blocks.model.rowCount() == 0
    assert not blocks.add_button.isEnabled()  # nothing to check "+" against yet
    qtbot.waitUntil(lambda: blocks.loads == 1 and auth.loads == 1)
    assert texts(blocks.view) == ["2000-2999"] and texts(blocks.view, 2) == ["1"]
    assert blocks.add_button.isEnabled() and not blocks.explanation.isVisibleTo(blocks)
    assert texts(auth.view) == ["2100"] and "2000-2999" in auth.blocks_label.text()
    # columns fitted to the data that arrived: the block column shows its label whole
    assert blocks.view.columnWidth(0) >= blocks.view.fontMetrics().horizontalAdvance("2000-2999")

    dialog = auth.add()
    assert not dialog.save_button.isEnabled() and dialog.username.count() == 0  # not there yet
    dialog.username.setCurrentText("2200")  # typed while loading
    qtbot.waitUntil(lambda: dialog.loaded)
    assert dialog.save_button.isEnabled() and dialog.username.count() == 200
    assert dialog.username.currentText() == "2200" and dialog.short.text() == "short 200"
    dialog.reject()
    gone(qtbot, dialog)


def test_a_block_assigned_elsewhere_reaches_a_shown_view_and_a_hidden_one_when_shown(
        threaded_ctx, sqlite_db, admin, acme, qtbot, model_tester):
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    blocks, auth = NumberBlocksWidget(threaded_ctx), AuthTab(threaded_ctx)
    tabs.addTab(blocks, "Main")
    tabs.addTab(auth, "Auth")
    for w in (blocks, auth):
        model_tester(w.model)
        model_tester(w.proxy)
        w.set_customer(acme)
    tabs.show()
    qtbot.waitUntil(lambda: blocks.loads == 1)
    assert auth.loads == 0 and auth.stale  # a hidden tab does not load
    tabs.setCurrentWidget(auth)
    qtbot.waitUntil(lambda: auth.loads == 1)
    tabs.setCurrentWidget(blocks)

    configure(sqlite_db, admin)                  # another writer
    numbers.assign_block(sqlite_db, admin, acme)
    qtbot.waitUntil(lambda: texts(blocks.view) == ["2000-2999"])
    qtbot.wait(200)
    assert auth.loads == 1 and auth.stale  # marked stale only
    assert auth.blocks_label.text().startswith("No number block")
    tabs.setCurrentWidget(auth)
    qtbot.waitUntil(lambda: auth.loads == 2)
    assert "2000-2999" in auth.blocks_label.text() and not auth.stale


def test_an_error_from_assign_is_shown(threaded_ctx, sqlite_db, admin, acme, qtbot, answers, model_tester):
    configure(sqlite_db, admin)
    blocks = shown(qtbot, model_tester, NumberBlocksWidget(threaded_ctx), acme)
    assert blocks.problem is None
    with unit_of_work(sqlite_db, admin) as uow:  # another workstation removes the setting
        uow.delete(uow.session.get(Option, "block-size"), message="Removed option block-size")
    before = snapshot(sqlite_db)
    blocks.assign()  # before that change arrives: "+" trusts what it loaded; the service refuses
    qtbot.waitUntil(lambda: bool(answers.errors))
    assert answers.errors[0].startswith("Internal Number Block Size is not set")
    assert snapshot(sqlite_db) == before
    qtbot.waitUntil(lambda: blocks.explanation.isVisibleTo(blocks) and blocks.add_button.isEnabled())
    assert blocks.explanation.text().startswith("Internal Number Block Size is not set")
    click(qtbot, blocks.add_button)  # now explained, not tried
    assert answers.infos and len(answers.errors) == 1


def test_a_refused_save_keeps_the_form(threaded_ctx, sqlite_db, admin, acme, qtbot, model_tester):
    numbers.add_sip_user(sqlite_db, admin, acme, "2100")
    auth = shown(qtbot, model_tester, AuthTab(threaded_ctx), acme)
    dialog = auth.add()
    qtbot.waitUntil(lambda: dialog.loaded)
    dialog.username.setCurrentText("2100")
    dialog.caller_id.setText("+4420")
    click(qtbot, dialog.save_button)
    assert not dialog.save_button.isEnabled()  # while saving
    qtbot.waitUntil(lambda: dialog.error.isVisibleTo(dialog))
    assert "Duplicate User Detected: 2100 is already used by this customer" in dialog.error.text()
    assert dialog.username.currentText() == "2100" and dialog.caller_id.text() == "+4420"
    assert dialog.save_button.isEnabled() and dialog.isVisible()
    dialog.reject()
    gone(qtbot, dialog)


def test_deleting_the_dialog_while_it_saves(threaded_ctx, sqlite_db, admin, acme, qtbot, monkeypatch, model_tester):
    auth = shown(qtbot, model_tester, AuthTab(threaded_ctx), acme)
    calls = record_calls(monkeypatch, SipUserDialog, "_saved", "_failed", "_save_ended")
    gate = Gate(monkeypatch, "add_sip_user")
    dialog = auth.add()
    qtbot.waitUntil(lambda: dialog.loaded)
    dialog.username.setCurrentText("77")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(gate.entered.is_set)
    dialog.close()  # deleted on close, its save still running
    gone(qtbot, dialog)
    with reloaded(qtbot, auth):
        gate.open.set()
    qtbot.waitUntil(lambda: not threaded_ctx.ops.busy)
    assert texts(auth.view) == ["77"]  # the save itself completed and reached the tab
    assert calls == []                 # but nothing called back into the deleted dialog


def test_deleting_the_dialog_while_it_loads(threaded_ctx, acme, qtbot, monkeypatch, model_tester):
    auth = shown(qtbot, model_tester, AuthTab(threaded_ctx), acme)
    calls = record_calls(monkeypatch, SipUserDialog, "_choices_arrived", "_choices_failed")
    gate = Gate(monkeypatch, "free_numbers")
    dialog = auth.add()
    qtbot.waitUntil(gate.entered.is_set)
    dialog.close()
    gone(qtbot, dialog)
    gate.open.set()
    qtbot.waitUntil(lambda: not threaded_ctx.ops.busy)
    qtbot.wait(50)
    assert calls == []


def test_deleting_the_blocks_section_while_it_loads(threaded_ctx, acme, qtbot, monkeypatch):
    holder = QWidget()
    qtbot.addWidget(holder)
    blocks = NumberBlocksWidget(threaded_ctx, holder)
    calls = record_calls(monkeypatch, NumberBlocksWidget, "show_data")
    gate = Gate(monkeypatch, "list_blocks")
    blocks.set_customer(acme)
    holder.show()
    qtbot.waitUntil(gate.entered.is_set)
    calls.clear()  # set_customer cleared the section; what counts is after the deletion
    blocks.deleteLater()
    gone(qtbot, blocks)
    gate.open.set()
    qtbot.waitUntil(lambda: not threaded_ctx.ops.busy)
    qtbot.wait(50)
    assert calls == []


def test_a_load_for_the_previous_customer_is_not_shown(threaded_ctx, sqlite_db, admin, acme, qtbot, monkeypatch,
                                                       make_customer, model_tester):
    other = make_customer(sqlite_db, "Other Ltd")
    configure(sqlite_db, admin)
    numbers.assign_block(sqlite_db, admin, acme)
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    blocks = NumberBlocksWidget(threaded_ctx)
    tabs.addTab(blocks, "Main")
    tabs.addTab(QWidget(), "Auth")
    model_tester(blocks.model)
    model_tester(blocks.proxy)
    gate = Gate(monkeypatch, "list_blocks")
    blocks.set_customer(acme)
    tabs.show()
    qtbot.waitUntil(gate.entered.is_set)  # Acme's blocks are being read...
    tabs.setCurrentIndex(1)
    blocks.set_customer(other)            # ...when another customer is chosen, the section hidden
    assert blocks.model.rowCount() == 0 and not blocks.add_button.isEnabled()
    gate.open.set()
    qtbot.waitUntil(lambda: not threaded_ctx.ops.busy)
    assert blocks.loads == 0  # Acme's result arrived and was dropped
    assert blocks.model.rowCount() == 0 and blocks.status.text() == "" and blocks.stale
    tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: blocks.loads == 1)
    assert blocks.model.rowCount() == 0 and blocks.status.text().startswith("No number block")
    assert blocks.add_button.isEnabled()
