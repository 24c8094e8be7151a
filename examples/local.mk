# Examples: programs that use the public API only, as an embedder would.
noinst_PROGRAMS += examples/imagedemo
examples_imagedemo_LDADD = libvmgc.la
