"""Loopback fake providers: real HTTP servers on 127.0.0.1 speaking each documented format."""
