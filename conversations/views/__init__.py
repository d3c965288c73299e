"""The conversation views: the chat page (pages), its JSON API (api), and the
interface text the page's script needs (strings)."""
