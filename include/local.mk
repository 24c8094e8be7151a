include_HEADERS = include/vmgc.h
vmgcincludedir = $(includedir)/vmgc
vmgcinclude_HEADERS = include/vmgc/inline.h
