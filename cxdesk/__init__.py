"""cxdesk: back-office desktop client for a VoIP carrier."""

__version__ = "0.1.0"
APP_NAME = "cxdesk"
