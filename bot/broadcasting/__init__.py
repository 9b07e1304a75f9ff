"""Broadcasting for staff: compose and send tips, anti-fraud alerts, notices and tasks.

`service.send_broadcast` is the one entry point (schedules call it for every fire);
`handlers` holds /broadcast, /broadcasts and /quiethours.
"""
