"""sluice_cc_proto: C++ code from a .proto with Debian's protoc, offline.

Bazel 4.2.3's proto rules want @com_google_protobuf, which cannot be
downloaded here; Debian's protoc and libprotobuf are the same 3.21 release,
so a genrule plus a cc_library over //third_party:protobuf does the job.
"""

def sluice_cc_proto(name, src, deps = [], visibility = None):
    base = src[:-len(".proto")]
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = [base + ".pb.h", base + ".pb.cc"],
        cmd = "protoc -I. --cpp_out=$(GENDIR) $(location %s)" % src,
    )
    native.filegroup(name = name + "_srcs", srcs = [src], visibility = visibility)
    native.cc_library(
        name = name,
        srcs = [base + ".pb.cc"],
        hdrs = [base + ".pb.h"],
        deps = deps + ["//third_party:protobuf"],
        visibility = visibility,
    )
