# Tools installed with the library.
bin_PROGRAMS += tools/vmgc-image
tools_vmgc_image_SOURCES = tools/vmgc-image.c
tools_vmgc_image_LDADD = libvmgc_core.la $(META_LIBS)
