"""The conversations, once for every chat network.

A step takes what a person did (``actions``) and who they are (``Person``), calls the domain
functions in ``db/`` inside the caller's session, and returns what to say (``replies``): texts
in the catalogue's light markup, buttons, whom else to tell. Nothing here knows a chat
library; a channel's adapter turns its updates into actions and renders the replies
(``bot/telegram/adapter.py``), and ``notifier.Notifier`` reaches the other people.

Kept free of imports so that ``bot.conversation.choices`` stays cheap for the broadcast path.
"""
