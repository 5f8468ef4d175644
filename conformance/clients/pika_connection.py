"""Connection-level scenarios with pika (Debian's python3-pika), run by
conformance/pika.test.ts: prints one JSON object with what pika observed."""
import json
import sys

import pika

port = int(sys.argv[1])
result = {}


def params(user="guest", password="guest", vhost="/", heartbeat=None):
    return pika.ConnectionParameters(
        host="127.0.0.1", port=port, virtual_host=vhost,
        credentials=pika.PlainCredentials(user, password),
        heartbeat=heartbeat, connection_attempts=1, socket_timeout=5)


# 1. connect, open 100 channels, close them, disconnect cleanly
conn = pika.BlockingConnection(params())
result["server_product"] = conn._impl.server_properties.get("product").decode() \
    if isinstance(conn._impl.server_properties.get("product"), bytes) else conn._impl.server_properties.get("product")
channels = [conn.channel() for _ in range(100)]
result["channels_opened"] = sum(1 for ch in channels if ch.is_open)
for ch in channels:
    ch.close()
result["channels_closed"] = sum(1 for ch in channels if ch.is_closed)
conn.close()
result["clean_close"] = conn.is_closed

# 2. a wrong password
try:
    pika.BlockingConnection(params(password="wrong"))
    result["wrong_password"] = "connected"
except pika.exceptions.ProbableAuthenticationError as e:
    result["wrong_password"] = "ProbableAuthenticationError: " + str(e)
except pika.exceptions.AMQPConnectionError as e:
    result["wrong_password"] = type(e).__name__ + ": " + str(e)

# 3. an unknown vhost
try:
    pika.BlockingConnection(params(vhost="no-such-vhost"))
    result["unknown_vhost"] = "connected"
except pika.exceptions.AMQPConnectionError as e:
    result["unknown_vhost"] = type(e).__name__ + ": " + str(e)

# 4. transactions: a committed publish arrives; tx.commit without tx.select closes the channel with 406
conn = pika.BlockingConnection(params())
ch = conn.channel()
q = ch.queue_declare(queue="", exclusive=True).method.queue
ch.tx_select()
ch.basic_publish(exchange="", routing_key=q, body=b"in a transaction")
ch.tx_commit()
result["tx_committed"] = ch.queue_declare(queue=q, passive=True).method.message_count
ch2 = conn.channel()
try:
    ch2.tx_commit()
    result["tx_commit_without_select"] = "ok"
except pika.exceptions.ChannelClosedByBroker as e:
    result["tx_commit_without_select"] = [e.reply_code, e.reply_text]
conn.close()

print(json.dumps(result))
