"""Loa Phường, the ward loudspeaker: a chat bot for a party cell and its neighbourhood."""
