"""Callback channels (回访方式): the order a callback tries them in and moving a task from one to another."""
