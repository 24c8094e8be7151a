include_HEADERS = include/vmgc.h
