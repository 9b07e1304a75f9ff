"""PIPL: a person sees what the bot holds about them (/mydata, art. 45) and may have it
deleted (forget-me from /leave, art. 47)."""
