"""Loa Phường: the ward loudspeaker, a chat bot for a residential party cell and its neighbourhood."""
