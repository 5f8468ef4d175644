"""Messaging scenarios with pika (Debian's python3-pika 1.2, unmodified), run
by conformance/messaging-pika.test.ts:

    pika_messaging.py HOST PORT PREFIX SCENARIO

runs one scenario against the broker and prints one JSON object with what pika
observed (or {"error": ...} when something unexpected happened). PREFIX makes
every queue and exchange name unique to this run, so reruns against the same
RabbitMQ do not collide. A watchdog (SIGALRM) bounds the whole run: pika's
BlockingConnection would otherwise wait forever for a reply that never comes.
"""
import json
import signal
import sys
import time

import pika
from pika.exceptions import ChannelClosedByBroker, UnroutableError

host = sys.argv[1]
port = int(sys.argv[2])
prefix = sys.argv[3]
scenario = sys.argv[4]

WATCHDOG_SECONDS = 15


class Watchdog(Exception):
    pass


def on_alarm(_signum, _frame):
    raise Watchdog("scenario %r did not finish within %d s" % (scenario, WATCHDOG_SECONDS))


def params():
    return pika.ConnectionParameters(
        host=host, port=port, virtual_host="/",
        credentials=pika.PlainCredentials("guest", "guest"),
        connection_attempts=1, socket_timeout=5, stack_timeout=5,
        blocked_connection_timeout=5)


def connect():
    return pika.BlockingConnection(params())


def name(suffix):
    return "%s.%s" % (prefix, suffix)


def plain(value):
    """JSON-able form of what pika decoded: bytes are marked as such."""
    if isinstance(value, bytes):
        return {"$bytes": value.decode("latin-1")}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


PROPERTY_NAMES = ("content_type", "content_encoding", "headers", "delivery_mode",
                  "priority", "correlation_id", "reply_to", "expiration",
                  "message_id", "timestamp", "type", "user_id", "app_id",
                  "cluster_id")


def props(p):
    return {k: plain(getattr(p, k)) for k in PROPERTY_NAMES}


def closed(e):
    return [e.reply_code, e.reply_text]


def drain(ch, queue):
    """Bodies in a queue, taken with basic.get (auto-ack) until it is empty."""
    bodies = []
    while True:
        method, _props, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return bodies
        bodies.append(body.decode())


def settle(ch, queue, count, seconds=2):
    """Wait until queue.declare reports `count` ready messages. RabbitMQ answers
    the queue's message count (its "stat" call) ahead of publishes that are
    still in the queue process's mailbox, so a declare right after publishing
    can count fewer; basic.get and the other methods are not reordered."""
    deadline = time.monotonic() + seconds
    while ch.queue_declare(queue, passive=True).method.message_count != count \
            and time.monotonic() < deadline:
        time.sleep(0.01)


def wait_until(conn, done, seconds):
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        conn.process_data_events(time_limit=min(0.05, max(0.0, deadline - time.monotonic())))


HEADERS = {"a": 1, "b": "x", "n": {"m": [1, "two"]}}


def full_properties(i):
    return pika.BasicProperties(
        content_type="application/json", headers=HEADERS,
        correlation_id="corr-%d" % i, reply_to="reply.q", delivery_mode=2,
        priority=3, message_id="msg-%d" % i, timestamp=1700000000 + i,
        app_id="warren-conformance", type="work.item")


# -- scenarios ---------------------------------------------------------------

def work_queue():
    conn = connect()
    ch = conn.channel()
    q = name("work")
    ok = ch.queue_declare(q, durable=False)
    r = {"declare_ok": [ok.method.queue, ok.method.message_count, ok.method.consumer_count]}
    for i in range(10):
        ch.basic_publish("", q, str(i).encode(), full_properties(i))
    ch.basic_qos(prefetch_count=3)
    deliveries = []

    def on_message(chan, method, properties, body):
        deliveries.append({
            "body": body.decode(), "redelivered": method.redelivered,
            "delivery_tag": method.delivery_tag, "exchange": method.exchange,
            "routing_key": method.routing_key, "properties": props(properties)})
        chan.basic_ack(method.delivery_tag)

    tag = ch.basic_consume(q, on_message, auto_ack=False)
    wait_until(conn, lambda: len(deliveries) >= 10, 5)
    ch.basic_cancel(tag)
    r["deliveries"] = deliveries
    after = ch.queue_declare(q, passive=True)
    r["after"] = [after.method.message_count, after.method.consumer_count]
    ch.queue_delete(q)
    conn.close()
    return r


def prefetch():
    conn = connect()
    ch = conn.channel()
    q = name("prefetch")
    ch.queue_declare(q)
    for i in range(6):
        ch.basic_publish("", q, ("p%d" % i).encode())
    ch.basic_qos(prefetch_count=3)
    got = []
    ch.basic_consume(q, lambda _c, m, _p, b: got.append([b.decode(), m.delivery_tag]), auto_ack=False)
    wait_until(conn, lambda: False, 0.3)
    r = {"first_300ms": list(got)}
    # one ack frees one slot: exactly one more delivery
    ch.basic_ack(got[0][1])
    wait_until(conn, lambda: False, 0.3)
    r["after_one_ack"] = list(got)
    # a multiple ack of everything so far frees all three slots
    ch.basic_ack(got[-1][1], multiple=True)
    wait_until(conn, lambda: False, 0.3)
    r["after_multiple_ack"] = list(got)
    ok = ch.queue_declare(q, passive=True)
    r["ready_left"] = ok.method.message_count
    ch.queue_delete(q)
    conn.close()
    return r


def nack_requeue():
    conn = connect()
    ch = conn.channel()
    q = name("nack")
    ch.queue_declare(q)
    for i in range(4):
        ch.basic_publish("", q, ("m%d" % i).encode())

    def get():
        method, _p, body = ch.basic_get(q, auto_ack=False)
        if method is None:
            return None
        return {"body": body.decode(), "delivery_tag": method.delivery_tag,
                "redelivered": method.redelivered, "message_count": method.message_count}

    r = {"first_three": [get(), get(), get()]}
    ch.basic_nack(r["first_three"][1]["delivery_tag"], requeue=True)
    again = get()
    r["after_nack"] = again
    r["next"] = get()
    r["empty"] = get()
    # reject the redelivered m1 without requeue: it is dropped
    ch.basic_reject(again["delivery_tag"], requeue=False)
    # the other unacked messages (m0, m2, m3) return to the queue when the channel closes
    ch.close()
    ch = conn.channel()
    settle(ch, q, 3)
    ok = ch.queue_declare(q, passive=True)
    r["count_after_close"] = ok.method.message_count
    r["after_close"] = [get(), get(), get(), get()]
    ch.queue_delete(q)
    conn.close()
    return r


def basic_get():
    conn = connect()
    ch = conn.channel()
    q = name("get")
    ch.queue_declare(q)
    method, properties, body = ch.basic_get(q, auto_ack=True)
    r = {"empty": [method, properties, body]}
    for i in range(3):
        ch.basic_publish("", q, ("g%d" % i).encode())
    gets = []
    for _ in range(3):
        method, properties, body = ch.basic_get(q, auto_ack=True)
        gets.append({"body": body.decode(), "delivery_tag": method.delivery_tag,
                     "redelivered": method.redelivered, "exchange": method.exchange,
                     "routing_key": method.routing_key, "message_count": method.message_count,
                     "properties": props(properties)})
    r["gets"] = gets
    method, _p, _b = ch.basic_get(q, auto_ack=True)
    r["empty_again"] = method is None
    ch.queue_delete(q)
    conn.close()
    return r


def routing():
    conn = connect()
    ch = conn.channel()
    r = {}

    def queues(exchange, bindings):
        """bindings: {queue suffix: [(routing key, arguments), ...]}"""
        names = {}
        for suffix, keys in bindings.items():
            q = name("%s.%s" % (exchange, suffix))
            ch.queue_declare(q, auto_delete=False)
            for key, args in keys:
                ch.queue_bind(q, name(exchange), key, arguments=args)
            names[suffix] = q
        return names

    # topic
    ch.exchange_declare(name("topic"), "topic")
    topic = queues("topic", {
        "hash": [("#", None)], "star_b": [("*.b", None)], "a_hash": [("a.#", None)],
        "exact": [("a.b.c", None)], "star_star": [("*.*", None)],
        "hash_c": [("#.c", None)]})
    for key in ["a", "a.b", "b.b", "a.b.c", "x.y.z", "", "a.", ".b"]:
        ch.basic_publish(name("topic"), key, ("t:" + key).encode())
    r["topic"] = {s: drain(ch, q) for s, q in topic.items()}

    # direct
    ch.exchange_declare(name("direct"), "direct")
    direct = queues("direct", {"one": [("k1", None)], "both": [("k1", None), ("k2", None)],
                               "empty_key": [("", None)]})
    for key in ["k1", "k2", "k3", ""]:
        ch.basic_publish(name("direct"), key, ("d:" + key).encode())
    r["direct"] = {s: drain(ch, q) for s, q in direct.items()}

    # fanout: the routing key does not matter
    ch.exchange_declare(name("fanout"), "fanout")
    fanout = queues("fanout", {"f1": [("ignored", None)], "f2": [("", None)]})
    for key in ["x", "", "y.z"]:
        ch.basic_publish(name("fanout"), key, ("f:" + key).encode())
    r["fanout"] = {s: drain(ch, q) for s, q in fanout.items()}

    # headers: x-match any / all (all is the default)
    ch.exchange_declare(name("headers"), "headers")
    hq = queues("headers", {
        "any": [("", {"x-match": "any", "a": 1, "b": 2})],
        "all": [("", {"x-match": "all", "a": 1, "b": 2})],
        "default_all": [("", {"a": 1, "b": 2})],
        "only_xmatch": [("", {"x-match": "all"})]})
    samples = [("a1", {"a": 1}), ("a1b2", {"a": 1, "b": 2}), ("b2c3", {"b": 2, "c": 3}),
               ("none", None), ("a1b2c3", {"a": 1, "b": 2, "c": 3}), ("a_str", {"a": "1"}),
               ("a1b3", {"a": 1, "b": 3})]
    for label, headers in samples:
        ch.basic_publish(name("headers"), "any.key", ("h:" + label).encode(),
                         pika.BasicProperties(headers=headers))
    r["headers"] = {s: drain(ch, q) for s, q in hq.items()}

    # the default exchange routes by queue name; amq.direct exists and routes by binding
    q = topic["hash"]
    ch.basic_publish("", q, b"default")
    ch.queue_bind(q, "amq.direct", "amq-key")
    ch.basic_publish("amq.direct", "amq-key", b"amq.direct")
    r["default_and_amq"] = drain(ch, q)

    for group in (topic, direct, fanout, hq):
        for qn in group.values():
            ch.queue_delete(qn)
    for ex in ("topic", "direct", "fanout", "headers"):
        ch.exchange_delete(name(ex))
    conn.close()
    return r


def mandatory_return():
    conn = connect()
    ch = conn.channel()
    q = name("mand")
    ch.queue_declare(q)
    ch.exchange_declare(name("mand.x"), "direct")
    returns = []

    def on_return(_ch, method, properties, body):
        returns.append({"reply_code": method.reply_code, "reply_text": method.reply_text,
                        "exchange": method.exchange, "routing_key": method.routing_key,
                        "body": body.decode(), "properties": props(properties)})

    ch.add_on_return_callback(on_return)
    ch.basic_publish("", name("nowhere"), b"r1",
                     pika.BasicProperties(content_type="text/plain", headers={"k": "v"}),
                     mandatory=True)
    ch.basic_publish(name("mand.x"), "unbound", b"r2", mandatory=True)
    ch.basic_publish("", q, b"routable", mandatory=True)
    ch.basic_publish("", name("nowhere"), b"not-mandatory", mandatory=False)
    wait_until(conn, lambda: len(returns) >= 2, 3)
    wait_until(conn, lambda: False, 0.2)  # nothing else comes back
    r = {"returns": returns, "routable_arrived": drain(ch, q)}
    ch.queue_delete(q)
    ch.exchange_delete(name("mand.x"))
    conn.close()
    return r


def mandatory_confirms():
    conn = connect()
    ch = conn.channel()
    q = name("confirm")
    ch.queue_declare(q)
    ch.confirm_delivery()
    r = {}
    try:
        ch.basic_publish("", name("nowhere"), b"c1", mandatory=True)
        r["unroutable"] = "published"
    except UnroutableError as e:
        r["unroutable"] = {"error": type(e).__name__,
                           "returned": [[m.method.reply_code, m.method.reply_text,
                                         m.method.exchange, m.method.routing_key, m.body.decode()]
                                        for m in e.messages]}
    ch.basic_publish("", q, b"c2", mandatory=True)
    r["routable"] = "published"
    ch.basic_publish("", name("nowhere"), b"c3", mandatory=False)
    r["unroutable_not_mandatory"] = "published"
    r["queue"] = drain(ch, q)
    try:
        ch.basic_publish(name("missing.x"), "k", b"c4")
        r["missing_exchange"] = "published"
    except ChannelClosedByBroker as e:
        r["missing_exchange"] = closed(e)
    ch = conn.channel()
    ch.queue_delete(q)
    conn.close()
    return r


def errors():
    conn = connect()
    r = {}

    def expect_close(key, action):
        ch = conn.channel()
        try:
            action(ch)
            r[key] = "no error"
        except ChannelClosedByBroker as e:
            r[key] = closed(e)
        r[key + "_channel_closed"] = ch.is_closed

    q = name("err")
    conn.channel().queue_declare(q, durable=False)
    conn.channel().exchange_declare(name("err.x"), "direct")

    expect_close("passive_missing", lambda ch: ch.queue_declare(name("missing"), passive=True))
    expect_close("durable_mismatch", lambda ch: ch.queue_declare(q, durable=True))
    expect_close("exclusive_mismatch", lambda ch: ch.queue_declare(q, exclusive=True))
    expect_close("amq_prefix", lambda ch: ch.exchange_declare("amq.x", "direct"))
    expect_close("exchange_type_mismatch", lambda ch: ch.exchange_declare(name("err.x"), "fanout"))
    expect_close("passive_missing_exchange",
                 lambda ch: ch.exchange_declare(name("missing.x"), "direct", passive=True))
    expect_close("bind_missing_exchange", lambda ch: ch.queue_bind(q, name("missing.x"), "k"))
    expect_close("bind_missing_queue", lambda ch: ch.queue_bind(name("missing"), name("err.x"), "k"))

    def publish_missing_exchange(ch):
        ch.basic_publish(name("missing.x"), "k", b"x")
        ch.queue_declare(q, passive=True)  # the next synchronous call sees the close
    expect_close("publish_missing_exchange", publish_missing_exchange)

    def ack_unknown(ch):
        ch.basic_ack(42)
        ch.queue_declare(q, passive=True)
    expect_close("ack_unknown_tag", ack_unknown)

    # an exclusive queue is locked to the connection that declared it
    ex = name("exclusive")
    conn.channel().queue_declare(ex, exclusive=True)
    other = connect()
    for key, action in [("exclusive_other_declare", lambda ch: ch.queue_declare(ex, exclusive=True)),
                        ("exclusive_other_passive", lambda ch: ch.queue_declare(ex, passive=True)),
                        ("exclusive_other_consume",
                         lambda ch: ch.basic_consume(ex, lambda *a: None))]:
        ch = other.channel()
        try:
            action(ch)
            r[key] = "no error"
        except ChannelClosedByBroker as e:
            r[key] = closed(e)
    other.close()

    # channel errors leave the connection usable
    r["connection_open"] = conn.is_open
    ch = conn.channel()
    ok = ch.queue_declare(q, passive=True)
    r["still_usable"] = ok.method.queue == q
    ch.queue_delete(q)
    ch.exchange_delete(name("err.x"))
    conn.close()
    return r


def counts():
    conn = connect()
    ch = conn.channel()
    q = name("counts")
    ok = ch.queue_declare(q)
    r = {"declare_new": [ok.method.message_count, ok.method.consumer_count]}
    for i in range(5):
        ch.basic_publish("", q, ("c%d" % i).encode())
    settle(ch, q, 5)
    ok = ch.queue_declare(q)
    r["declare_5"] = [ok.method.message_count, ok.method.consumer_count]

    cch = conn.channel()
    cch.basic_qos(prefetch_count=1)
    got = []
    cch.basic_consume(q, lambda _c, m, _p, b: got.append(b.decode()), auto_ack=False)
    wait_until(conn, lambda: len(got) >= 1, 3)
    wait_until(conn, lambda: False, 0.1)
    r["consumer_got"] = list(got)
    ok = ch.queue_declare(q, passive=True)
    r["declare_with_consumer"] = [ok.method.message_count, ok.method.consumer_count]
    purge = ch.queue_purge(q)
    r["purge"] = purge.method.message_count
    ok = ch.queue_declare(q, passive=True)
    r["after_purge"] = [ok.method.message_count, ok.method.consumer_count]
    # closing the consumer's channel requeues its unacked message
    cch.close()
    settle(ch, q, 1)
    ok = ch.queue_declare(q, passive=True)
    r["after_consumer_closed"] = [ok.method.message_count, ok.method.consumer_count]
    for i in range(2):
        ch.basic_publish("", q, ("d%d" % i).encode())
    delete = ch.queue_delete(q)
    r["delete"] = delete.method.message_count
    empty = ch.queue_declare(name("counts.empty"))
    r["delete_empty"] = ch.queue_delete(name("counts.empty")).method.message_count
    r["empty_declared"] = empty.method.queue
    conn.close()
    return r


def consumer_cancel():
    conn = connect()
    caps = conn._impl.server_properties.get("capabilities", {})
    r = {"server_consumer_cancel_notify": caps.get("consumer_cancel_notify")}
    ch = conn.channel()
    q = name("cancel")
    ch.queue_declare(q)
    cancels = []
    ch.add_on_cancel_callback(lambda frame: cancels.append(
        {"method": frame.method.NAME, "consumer_tag": frame.method.consumer_tag,
         "nowait": frame.method.nowait}))
    tag = ch.basic_consume(q, lambda *a: None, consumer_tag="ctag-" + prefix)
    r["consumer_tag"] = tag == "ctag-" + prefix
    other = conn.channel()
    ok = other.queue_delete(q)
    r["delete_ok"] = ok.method.message_count
    wait_until(conn, lambda: len(cancels) >= 1, 3)
    r["cancels"] = [dict(c, consumer_tag=c["consumer_tag"] == "ctag-" + prefix) for c in cancels]
    r["channel_open"] = ch.is_open
    r["consumer_tags_after"] = list(ch.consumer_tags)

    # the same through the consume() generator: it ends when the broker cancels
    q2 = name("cancel.gen")
    ch.queue_declare(q2)
    ch.basic_publish("", q2, b"before-delete")
    seen = []
    for method, _p, body in ch.consume(q2, auto_ack=True, inactivity_timeout=2):
        if method is None:
            seen.append("inactivity-timeout")
            break
        seen.append(body.decode())
        conn.channel().queue_delete(q2)
    r["generator"] = seen
    r["generator_channel_open"] = ch.is_open
    conn.close()
    return r


SCENARIOS = {f.__name__: f for f in (work_queue, prefetch, nack_requeue, basic_get, routing,
                                     mandatory_return, mandatory_confirms, errors, counts,
                                     consumer_cancel)}

signal.signal(signal.SIGALRM, on_alarm)
signal.alarm(WATCHDOG_SECONDS)
try:
    result = SCENARIOS[scenario]()
except BaseException as e:  # report, do not hang or print a traceback only
    result = {"error": "%s: %s" % (type(e).__name__, e)}
signal.alarm(0)
print(json.dumps(result))
