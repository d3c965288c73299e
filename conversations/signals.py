"""Signals other apps listen to, so conversations need not know about them."""

from django.dispatch import Signal

# Sent (in the database thread, after the reply's final save has committed) when a
# reply ends, whatever its status. Arguments: sender=Message class, message=Message.
# The review app turns flagged and refused replies into review items from it.
reply_finished = Signal()
