"""Tip-offs: residents report problems with photos; routed to the right team; followed up."""
