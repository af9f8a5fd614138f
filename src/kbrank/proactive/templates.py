"""Message templates: Jinja2, autoescaped for HTML, strict about missing variables, one set per locale.

A template set is a folder per locale (``en``, ``de``, ``fr-CA``, ...) holding one file per channel:
``subject.txt`` (email subject, push title), ``email.html``, ``sms.txt``, ``push.txt``, ``in_app.txt`` and
``webhook.txt``, plus ``macros.txt`` with the sentences they share. kbrank ships ``en``, ``de`` and ``fr``
(package data in ``kbrank/proactive/templates``); pass ``directory=`` to add locales or override files (a file
there wins over the shipped one of the same name).

**Locale fallback.** A customer's locale ``de-AT`` uses ``de-AT/`` if it has the channel's file, else ``de/``,
else the default locale (``DEFAULT_LOCALE``, ``en``; ``default_locale=`` changes it). A locale that is not a
well-formed tag (letters, digits, ``-``/``_``) goes straight to the default.

**Escaping.** ``.html`` templates are autoescaped (issue titles, product names and clauses are data); the
plain-text ones are not escaped, since they are never interpreted as markup. Jinja decides escaping per
template file, and trusts what an imported macro returns, so the shared sentences are compiled twice: HTML
templates import ``<locale>/macros.html``, which (unless a folder provides one) is the same ``macros.txt``
compiled with autoescaping. Templates run in Jinja's sandbox.

**Missing variables are errors.** Templates use `jinja2.StrictUndefined`: a variable the plan does not
provide raises `kbrank.errors.TemplateError` naming the template file, the line and the variable, never an
empty string in a customer's message. The variables are:

* ``issue``: ``id``, ``title``, ``summary``, ``impact``, ``status``, ``eta`` (ISO date or ``None``),
  ``affects`` (who it affects, in words)
* ``customer``: ``product``, ``version`` (``None`` when unknown), ``clause`` (why they are affected),
  ``fixed_in`` (the fixed version of their product, or ``None``), ``segment``, ``locale``
* ``workaround`` and ``fix``: ``{"id", "title", "url"}`` of the linked articles, or ``None``
* ``update``: ``number``, ``kind`` (``notice``: the first message this customer gets about the issue, with the
  whole context; ``update``: a later one), ``previous_status`` (what this customer was last told, or ``None``)
* ``sender``: the signature (``sender_name=``, default "Customer support")
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..errors import MissingDependencyError, ParameterError, TemplateError
from .records import MESSAGE_CHANNELS

if TYPE_CHECKING:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

__all__ = ["Templates", "Rendered", "DEFAULT_LOCALE", "CHANNEL_FILES"]

DEFAULT_LOCALE = "en"
#: The file that renders each channel's body.
CHANNEL_FILES = {"email": "email.html", "sms": "sms.txt", "push": "push.txt", "in_app": "in_app.txt",
                 "webhook": "webhook.txt"}
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Rendered:
    """One rendered message: ``locale`` is the template locale actually used (after fallback)."""

    subject: str
    body: str
    html: bool
    locale: str


class Templates:
    """The message templates (see the module docstring). Keyword-only settings: ``directory`` (a folder of
    locale folders that adds to or overrides the shipped ones), ``default_locale``, ``sender_name`` (the
    signature), ``article_url`` (a format string such as ``"https://help.example.com/a/{id}"`` for linked
    articles the corpus does not give a URL for)."""

    def __init__(self, *, directory: str | os.PathLike[str] | None = None, default_locale: str = DEFAULT_LOCALE,
                 sender_name: str = "Customer support", article_url: str | None = None) -> None:
        self.directory = directory
        self.default_locale = default_locale
        self.sender_name = sender_name
        self.article_url = article_url
        self._env: SandboxedEnvironment | None = None
        self._resolved: dict[tuple[str | None, str], str] = {}

    def __repr__(self) -> str:
        return f"Templates(directory={self.directory!r}, default_locale={self.default_locale!r})"

    def _environment(self) -> SandboxedEnvironment:
        if self._env is not None:
            return self._env
        try:
            import jinja2
            from jinja2.sandbox import SandboxedEnvironment
        except ImportError:
            raise MissingDependencyError("jinja2", "proactive") from None
        if self.directory is not None and not Path(self.directory).is_dir():
            raise TemplateError("not a folder of message templates", source=str(self.directory),
                                fix="pass a folder holding one subfolder per locale (en/, de/, ...)")
        if not isinstance(self.default_locale, str) or not _LOCALE.match(self.default_locale):
            raise ParameterError("default_locale", "a locale tag such as 'en' or 'de-DE'", self.default_locale)
        loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("kbrank.proactive", "templates")]
        if self.directory is not None:
            loaders.insert(0, jinja2.FileSystemLoader(str(self.directory)))
        self._env = SandboxedEnvironment(loader=_macros_loader(jinja2.ChoiceLoader(loaders)),
                                         autoescape=jinja2.select_autoescape(enabled_extensions=("html",),
                                                                             default_for_string=False),
                                         undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        return self._env

    def locale_for(self, locale: str | None, channel: str) -> str:
        """The template locale that renders ``channel`` for a customer in ``locale`` (see the fallback)."""
        key = (locale, channel)
        if key not in self._resolved:
            env = self._environment()
            names = set(env.list_templates())
            candidates = []
            if isinstance(locale, str) and _LOCALE.match(locale):
                candidates += [locale, locale.replace("_", "-").split("-")[0]]
            candidates.append(self.default_locale)
            found = next((c for c in candidates if f"{c}/{CHANNEL_FILES[channel]}" in names), None)
            if found is None:
                raise TemplateError(f"no template for channel {channel!r} in locale {self.default_locale!r}",
                                    source=str(self.directory or "kbrank/proactive/templates"),
                                    fix=f"add {self.default_locale}/{CHANNEL_FILES[channel]} (or choose another "
                                        f"default_locale)")
            self._resolved[key] = found
        return self._resolved[key]

    def render(self, channel: str, locale: str | None, context: Mapping[str, Any]) -> Rendered:
        """Render the subject and body of one message for ``channel`` in (the fallback of) ``locale``."""
        if channel not in MESSAGE_CHANNELS:
            raise ParameterError("channel", f"one of {', '.join(MESSAGE_CHANNELS)}", channel)
        used = self.locale_for(locale, channel)
        variables = {**context, "sender": self.sender_name}
        subject = " ".join(self._render(f"{used}/subject.txt", variables).split())
        body_name = f"{used}/{CHANNEL_FILES[channel]}"
        body = self._render(body_name, variables).strip() + "\n"
        return Rendered(subject, body, body_name.endswith(".html"), used)

    def _render(self, name: str, variables: Mapping[str, Any]) -> str:
        import jinja2

        env = self._environment()
        try:
            return env.get_template(name).render(variables)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error: {exc.message}", source=exc.filename or exc.name or name,
                                line=exc.lineno, fix="correct the template (see the Jinja2 documentation)") from None
        except jinja2.UndefinedError as exc:
            source, line = _template_position(exc, name)
            raise TemplateError(f"the template uses a variable the plan does not provide: {exc.message}",
                                source=source, line=line,
                                fix="use only the documented variables (kbrank.proactive.templates), or guard "
                                    "optional ones with {% if ... %}") from None
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"template {exc.name!r} not found", source=str(self.directory or name),
                                fix="add the file, or remove the import of it") from None
        except jinja2.exceptions.SecurityError as exc:
            raise TemplateError(f"the template did something the sandbox forbids: {exc}", source=name,
                                fix="templates may only format the documented variables") from None


def _macros_loader(base: jinja2.BaseLoader) -> jinja2.BaseLoader:
    """``<locale>/macros.html`` is ``<locale>/macros.txt`` unless it exists: the same sentences, compiled with
    autoescaping for the HTML templates."""
    import jinja2

    class MacrosLoader(jinja2.BaseLoader):
        def get_source(
            self, environment: jinja2.Environment, template: str
        ) -> tuple[str, str | None, Callable[[], bool] | None]:
            try:
                return base.get_source(environment, template)
            except jinja2.TemplateNotFound:
                if not template.endswith("/macros.html"):
                    raise
                return base.get_source(environment, template[: -len(".html")] + ".txt")

        def list_templates(self) -> list[str]:
            return base.list_templates()

    return MacrosLoader()


def _template_position(exc: BaseException, name: str) -> tuple[str, int | None]:
    """The template file and line an exception was raised at (Jinja maps its frames to template lines)."""
    source, line = name, None
    tb = exc.__traceback__ or sys.exc_info()[2]
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".txt", ".html")) or tb.tb_frame.f_globals.get("__jinja_template__"):
            source, line = filename, tb.tb_lineno
        tb = tb.tb_next
    return source, line
