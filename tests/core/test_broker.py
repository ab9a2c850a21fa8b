"""The embedded broker: a worker polling while a message is being written never reads half of it."""

import builtins

import pytest
from kombu import Connection
from kombu.transport import filesystem

from mailherd.core import broker

BROKERS = {"kombu's filesystem transport": filesystem.Transport, "Mailherd's": broker.Transport}


def _channel(transport, folder):
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False}
    return Connection("filesystem://", transport=transport, transport_options=options).default_channel


def _poll_while_writing(monkeypatch, transport, folder):
    """Put one message; the moment its file is created, a worker polls the queue."""
    writer, worker = _channel(transport, folder), _channel(transport, folder)
    seen = []
    real_open = builtins.open

    def open_then_poll(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if "w" in mode and not seen:
            try:
                seen.append(("read", worker._get("celery")))
            except filesystem.Empty:
                seen.append(("nothing yet", None))
            except Exception as exc:  # noqa: BLE001 - what the worker would die of
                seen.append(("crashed", exc))
        return handle

    for module in (filesystem, broker):
        monkeypatch.setattr(module, "open", open_then_poll, raising=False)
    writer._put("celery", {"body": "nudge"})
    monkeypatch.undo()
    return seen[0], worker


def test_kombus_own_transport_hands_a_polling_worker_an_empty_message(monkeypatch, tmp_path):
    """Why Mailherd has its own: this is the crash seen under load."""
    (outcome, error), _worker = _poll_while_writing(monkeypatch, BROKERS["kombu's filesystem transport"], tmp_path)
    assert outcome == "crashed" and "Expecting value" in str(error)


def test_a_message_appears_only_when_whole(monkeypatch, tmp_path):
    (outcome, _), worker = _poll_while_writing(monkeypatch, broker.Transport, tmp_path)
    assert outcome == "nothing yet"
    assert worker._get("celery") == {"body": "nudge"}  # then it is there, whole
    with pytest.raises(filesystem.Empty):
        worker._get("celery")  # and taken once
    assert not list(tmp_path.iterdir())  # no partial file left behind


def test_the_embedded_default_uses_it(settings):
    from mailherd.celery import app

    if not settings.CELERY_EMBEDDED_BROKER:
        pytest.skip("a broker server is configured")
    with app.connection_for_write() as connection:
        assert isinstance(connection.transport, broker.Transport)
