//! Context, I/O thread, completion queue behind a pollable fd, timers.
