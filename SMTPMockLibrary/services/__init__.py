"""Read-back services over a server's mailbox: IMAP, POP3 and the HTTP API.

Each is an optional extra, imported only when started; none imports the
keyword layer.
"""
