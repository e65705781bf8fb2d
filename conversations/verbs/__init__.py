"""The verbs of the command grammar and the button/form actions, each mapped to its handler."""
from conversations.grammar import Command
from conversations.dialogs import ANSWER_ACTION, answer_button
from conversations.verbs import announce as announcing
from conversations.verbs.agenda import agenda
from conversations.verbs.console import console
from conversations.verbs.followup import followup
from conversations.verbs.help import help_verb
from conversations.verbs.meetings import (BOOK_CHOICE, KEEP_BUTTON, LOG_BUTTON, NEXT_BUTTON,
                                          book_choice, cancel, did_meet, keep_booking, log,
                                          next_meeting, open_log_form, open_next_form,
                                          submit_log_form, submit_next_form)
from conversations.verbs.privacy import export, forget
from conversations.verbs.questions import evaluate, reflect
from conversations.verbs.report import report
from conversations.verbs.snooze import optin, optout, resume, snooze, snooze_button
from conversations.verbs.status import status

REGISTRY = {
    "help": help_verb, "log": log, "next": next_meeting, "move": next_meeting, "cancel": cancel,
    "agenda": agenda, "status": status,
    "reflect": reflect, "snooze": snooze, "pause": snooze, "resume": resume, "optout": optout,
    "optin": optin, "evaluate": evaluate, "export": export, "forget": forget,
    "announce": announcing.announce, "followup": followup,
    "report": report, "console": console,
}

ACTIONS = {
    LOG_BUTTON: open_log_form, "log_submit": submit_log_form,
    NEXT_BUTTON: open_next_form, "next_submit": submit_next_form,
    BOOK_CHOICE: book_choice, KEEP_BUTTON: keep_booking,
    "snooze": snooze_button, ANSWER_ACTION: answer_button, "did_meet": did_meet,
    announcing.SEND: announcing.button, announcing.CANCEL: announcing.button,
    announcing.RSVP: announcing.rsvp,
    "evaluate": lambda turn, event: evaluate(turn, Command("evaluate", event.value, "evaluate")),
    "reflect": lambda turn, event: reflect(turn, None),
}
