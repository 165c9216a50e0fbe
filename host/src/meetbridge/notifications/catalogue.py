"""The words of every message, by locale.

English (``en``) is complete and is the reference: a test renders every message and fails on
a key missing from it. Other locales may be partial; a string they lack falls back to English,
so adding a language is adding a dictionary here (and ``settings.email.locale``).

Strings use ``str.format`` placeholders (``{title}``). They never contain markup: the HTML
layout escapes them, the text layout prints them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_LOCALE = "en"

EN: dict[str, Any] = {
    # -- calendar words and formats -------------------------------------------------------------
    "weekdays": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "weekdays_short": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "months": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "months_short": [
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
    ],
    "format.date": "{weekday}, {day} {month} {year}",
    "format.date_short": "{weekday_short} {day} {month_short}",
    "format.clock": "12h",
    "format.range": "{date}, {start} \u2013 {end}",
    "format.range_overnight": "{date}, {start} \u2013 {end_date}, {end}",
    "format.zone": "{abbr} ({zone})",
    "format.minutes": "{minutes} minutes",
    "format.list_and": " and ",
    # -- labels ---------------------------------------------------------------------------------
    "label.when": "When",
    "label.what": "What",
    "label.with": "With",
    "label.where": "Where",
    "label.duration": "Duration",
    "label.previously": "Previously",
    "label.passcode": "Passcode",
    "label.dial_in": "Dial in",
    "label.join": "Join link",
    "label.guest": "Guest",
    "label.notes": "Notes",
    "label.reason": "Reason",
    "label.account": "Account",
    "label.since": "Since",
    "label.booking": "Booking",
    "label.host": "Host",
    # -- locations and video --------------------------------------------------------------------
    "location.video": "{provider} video meeting",
    "location.phone": "Phone call: {value}",
    "location.in_person": "In person: {value}",
    "location.custom_link": "Online: {value}",
    "location.to_be_arranged": "To be arranged with your host",
    "location.video_missing": "No video meeting yet",
    "video.generic": "video",
    "video.join_button": "Join {provider} meeting",
    "video.pending.attendee": (
        "Your {provider} link is on its way: we will email it to you as soon as it is ready."
    ),
    "video.pending.host": (
        "The {provider} meeting is being created; you and your guest will get the link by"
        " email as soon as it is ready."
    ),
    "video.none.attendee": "Your host will send you the meeting details.",
    "video.none.host": (
        "No video meeting could be made for this booking; a separate message says why and"
        " how to fix it."
    ),
    "video.host_start": (
        "To start the meeting as its host, open the booking and click Start meeting: it"
        " fetches a fresh host link from {provider}."
    ),
    # -- buttons and hints ----------------------------------------------------------------------
    "button.manage": "Reschedule or cancel",
    "button.open_booking": "Open the booking",
    "button.open_link": "Open the meeting link",
    "button.book_again": "Book another time",
    "button.reconnect": "Reconnect {provider}",
    "button.integrations": "Open Integrations",
    "hint.manage": "Need to change something? Use your private link to reschedule or cancel.",
    "hint.manage_earlier": (
        "To change it again, use the private link from your confirmation email."
    ),
    "hint.calendar": "The attached invitation puts this in your calendar.",
    "hint.calendar_update": "The attached invitation updates the event in your calendar.",
    "hint.calendar_cancel": "The attached cancellation removes the event from your calendar.",
    # -- footers ----------------------------------------------------------------------------------
    "footer.attendee": "You receive this because you booked {title} with {org}.",
    "footer.host": "You receive this as a host at {org}.",
    "footer.admin": "You receive this as an administrator of {org}.",
    "footer.owner": "You receive this because you connected this account to {org}.",
    "footer.brand": "Sent by meetbridge for {org}.",
    # -- booking_confirmed ---------------------------------------------------------------------
    "booking_confirmed.subject.attendee": "Confirmed: {title} with {host} on {date}",
    "booking_confirmed.subject.host": "New booking: {title} with {guest} on {date}",
    "booking_confirmed.heading.attendee": "You're booked",
    "booking_confirmed.heading.host": "New booking",
    "booking_confirmed.intro.attendee": "{title} with {host} is confirmed.",
    "booking_confirmed.intro.host": "{guest} booked {title} with you.",
    # -- booking_rescheduled -------------------------------------------------------------------
    "booking_rescheduled.subject.attendee": "Updated: {title} is now on {date}",
    "booking_rescheduled.subject.host": "Rescheduled: {title} with {guest} is now on {date}",
    "booking_rescheduled.heading.attendee": "Your booking has a new time",
    "booking_rescheduled.heading.host": "A booking has a new time",
    "booking_rescheduled.intro.attendee": "{title} with {host} has moved.",
    "booking_rescheduled.intro.host": "{title} with {guest} has moved.",
    # -- booking_cancelled ---------------------------------------------------------------------
    "booking_cancelled.subject.attendee": "Cancelled: {title} on {date}",
    "booking_cancelled.subject.host": "Cancelled: {title} with {guest} on {date}",
    "booking_cancelled.heading.attendee": "Booking cancelled",
    "booking_cancelled.heading.host": "Booking cancelled",
    "booking_cancelled.intro.attendee": "{title} with {host} is cancelled.",
    "booking_cancelled.intro.host": "{title} with {guest} is cancelled; the time is free again.",
    # -- booking_reassigned (to a host who no longer hosts it) ---------------------------------
    "booking_reassigned.subject.host": "Reassigned: {title} with {guest} on {date}",
    "booking_reassigned.heading.host": "This booking moved to another host",
    "booking_reassigned.intro.host": (
        "{title} with {guest} was rescheduled and is now hosted by {host}; it is no longer"
        " on your calendar."
    ),
    # -- conferencing_provisioned ----------------------------------------------------------------
    "conferencing_provisioned.subject.attendee": "Your link for {title} on {date}",
    "conferencing_provisioned.subject.host": "Video link ready: {title} with {guest}",
    "conferencing_provisioned.heading.attendee": "Here is your link",
    "conferencing_provisioned.heading.host": "The video link is ready",
    "conferencing_provisioned.intro.attendee": (
        "The {provider} meeting for {title} with {host} is ready."
    ),
    "conferencing_provisioned.intro.host": (
        "The {provider} meeting for {title} with {guest} is ready, and your guest has the link."
    ),
    # -- conferencing_failed --------------------------------------------------------------------
    "conferencing_failed.subject": "Action needed: no video link for {title} on {date}",
    "conferencing_failed.heading": "The video meeting could not be created",
    "conferencing_failed.intro": (
        "{provider} could not create the meeting for {title} with {guest}."
    ),
    "conferencing_failed.client_pending": (
        "{guest} was told the link is on its way and has not received one yet."
    ),
    "conferencing_failed.client_plain": "{guest} has the booking but no video link.",
    "conferencing_failed.fix_heading": "How to fix it",
    "conferencing_failed.fix_connection": (
        "Check the {provider} connection on the Integrations page; reconnect it if it shows a"
        " problem."
    ),
    "conferencing_failed.fix_retry": (
        "Then give the booking its meeting again: run `meetbridge bookings reprovision`."
    ),
    "conferencing_failed.fix_other": "Or send {guest} another way to meet.",
    # -- conferencing_unavailable -----------------------------------------------------------------
    "conferencing_unavailable.subject": "Action needed: {title} on {date} has no video",
    "conferencing_unavailable.heading": "Booked without video",
    "conferencing_unavailable.intro": (
        "{guest} booked {title}, but no connected video account could host the meeting."
    ),
    "conferencing_unavailable.tried": "What meetbridge tried",
    "conferencing_unavailable.client": (
        "{guest} was told that the host will send the meeting details."
    ),
    "conferencing_unavailable.fix_heading": "How to fix it",
    "conferencing_unavailable.fix_connect": (
        "Connect a video account (for example Zoom, Google Meet or Microsoft Teams) on the"
        " Integrations page."
    ),
    "conferencing_unavailable.fix_retry": (
        "Then run `meetbridge bookings reprovision` to give this booking its meeting."
    ),
    # -- daily_limit_deferral ---------------------------------------------------------------------
    "daily_limit_deferral.subject": "Video link delayed: {title} with {guest}",
    "daily_limit_deferral.heading": "The video link is delayed",
    "daily_limit_deferral.intro": (
        "{provider} limits how many meetings can be made for one host per day. The meeting for"
        " {title} with {guest} will be created automatically when the limit resets."
    ),
    "daily_limit_deferral.nothing_to_do": (
        "Nothing to do: {guest} gets the link by email as soon as it is made."
    ),
    # -- connection notices -----------------------------------------------------------------------
    "connection_needs_reconnect.subject": "Reconnect your {provider} account",
    "connection_needs_reconnect.subject_org": "Reconnect {org}'s {provider} account",
    "connection_needs_reconnect.heading": "{provider} needs you to reconnect",
    "connection_needs_reconnect.intro": (
        "meetbridge can no longer use the {provider} account {account}: {provider} refused"
        " its access."
    ),
    "connection_removed.subject": "meetbridge was removed from your {provider} account",
    "connection_removed.subject_org": "meetbridge was removed from {org}'s {provider} account",
    "connection_removed.heading": "{provider} access was removed",
    "connection_removed.intro": (
        "meetbridge was removed from the {provider} account at {provider}, so its access and"
        " everything it had from {provider} were deleted."
    ),
    "connection_reminder.subject": "Reminder: reconnect {provider}",
    "connection_reminder.heading": "Your {provider} connection is still broken",
    "connection_reminder.intro": (
        "It is {days} days since meetbridge lost access to the {provider} account {account}."
    ),
    "connection_reminder.intro_one": (
        "It is a day since meetbridge lost access to the {provider} account {account}."
    ),
    "connection_reminder.last": "This is the last reminder.",
    "connection.consequence": (
        "Until it is reconnected, new bookings use the next video provider in line (or go"
        " without video), and {provider} meetings already made with it cannot be moved or"
        " cancelled at {provider} by meetbridge."
    ),
    "connection.consequence_org": (
        "Until it is reconnected, members who relied on this organisation account get the next"
        " video provider in line (or no video)."
    ),
    "connection.affected": "Upcoming bookings with {provider} meetings from this account: {count}.",
    "connection.reminders": "We will remind you after {days} days until it is reconnected.",
    "connection.account_unknown": "(account details deleted)",
    "connection.org_account": "the organisation account",
}

# French: the messages clients receive (and the calendar words); everything else falls back
# to English until someone translates it.
FR: dict[str, Any] = {
    "weekdays": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
    "weekdays_short": ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."],
    "months": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    "months_short": [
        "janv.",
        "févr.",
        "mars",
        "avr.",
        "mai",
        "juin",
        "juil.",
        "août",
        "sept.",
        "oct.",
        "nov.",
        "déc.",
    ],
    "format.date": "{weekday} {day} {month} {year}",
    "format.date_short": "{weekday_short} {day} {month_short}",
    "format.clock": "24h",
    "format.range": "{date}, {start} \u2013 {end}",
    "format.range_overnight": "{date}, {start} \u2013 {end_date}, {end}",
    "format.minutes": "{minutes} minutes",
    "format.list_and": " et ",
    "label.when": "Quand",
    "label.what": "Quoi",
    "label.with": "Avec",
    "label.where": "Où",
    "label.duration": "Durée",
    "label.previously": "Auparavant",
    "label.passcode": "Code secret",
    "label.dial_in": "Par téléphone",
    "label.join": "Lien de connexion",
    "location.video": "Réunion vidéo {provider}",
    "location.phone": "Appel téléphonique : {value}",
    "location.in_person": "En personne : {value}",
    "location.custom_link": "En ligne : {value}",
    "location.to_be_arranged": "À convenir avec votre hôte",
    "video.generic": "vidéo",
    "video.join_button": "Rejoindre la réunion {provider}",
    "video.pending.attendee": (
        "Votre lien {provider} arrive : nous vous l'enverrons par e-mail dès qu'il sera prêt."
    ),
    "video.none.attendee": "Votre hôte vous enverra les détails de la réunion.",
    "button.manage": "Déplacer ou annuler",
    "button.open_link": "Ouvrir le lien de la réunion",
    "button.book_again": "Réserver un autre créneau",
    "hint.manage": (
        "Un changement ? Utilisez votre lien personnel pour déplacer ou annuler le rendez-vous."
    ),
    "hint.manage_earlier": (
        "Pour le modifier à nouveau, utilisez le lien personnel de votre e-mail de confirmation."
    ),
    "hint.calendar": "L'invitation jointe ajoute ce rendez-vous à votre agenda.",
    "hint.calendar_update": "L'invitation jointe met à jour le rendez-vous dans votre agenda.",
    "hint.calendar_cancel": "L'annulation jointe retire le rendez-vous de votre agenda.",
    "footer.attendee": "Vous recevez ce message car vous avez réservé {title} avec {org}.",
    "footer.brand": "Envoyé par meetbridge pour {org}.",
    "booking_confirmed.subject.attendee": "Confirmé : {title} avec {host} le {date}",
    "booking_confirmed.heading.attendee": "C'est réservé",
    "booking_confirmed.intro.attendee": "{title} avec {host} est confirmé.",
    "booking_rescheduled.subject.attendee": "Modifié : {title} a lieu le {date}",
    "booking_rescheduled.heading.attendee": "Votre rendez-vous a un nouvel horaire",
    "booking_rescheduled.intro.attendee": "{title} avec {host} a été déplacé.",
    "booking_cancelled.subject.attendee": "Annulé : {title} le {date}",
    "booking_cancelled.heading.attendee": "Rendez-vous annulé",
    "booking_cancelled.intro.attendee": "{title} avec {host} est annulé.",
    "conferencing_provisioned.subject.attendee": "Votre lien pour {title} le {date}",
    "conferencing_provisioned.heading.attendee": "Voici votre lien",
    "conferencing_provisioned.intro.attendee": (
        "La réunion {provider} pour {title} avec {host} est prête."
    ),
}

CATALOGUES: dict[str, Mapping[str, Any]] = {"en": EN, "fr": FR}


def available_locales() -> list[str]:
    return sorted(CATALOGUES)


class Translator:
    """Strings of one locale, falling back to English key by key."""

    def __init__(self, locale: str = DEFAULT_LOCALE) -> None:
        # "fr-CA" and "fr_CA" use "fr" when there is no exact catalogue.
        base = locale.replace("_", "-").split("-")[0].lower()
        self.locale = locale if locale in CATALOGUES else base
        self._strings = CATALOGUES.get(self.locale, EN)

    def raw(self, key: str) -> Any:
        if key in self._strings:
            return self._strings[key]
        return EN[key]  # a KeyError here is a bug: English is complete

    def __call__(self, key: str, **values: Any) -> str:
        return str(self.raw(key)).format(**values)

    def has(self, key: str) -> bool:
        return key in self._strings or key in EN
