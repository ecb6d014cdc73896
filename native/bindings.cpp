// bindings.cpp -- the pybind11 module `safenet_native`.
//
// Job: the Python-facing layer.  Every entry point
//   1. validates its arguments while holding the GIL (numpy.ndarray, dtype
//      uint64 (float64 for fx_encode), C-contiguous, matching shapes, a
//      writeable `out`), raising TypeError / ValueError with a message that
//      names the function, the argument and the problem;
//   2. allocates the result (or uses `out=`), copying any input that
//      partially overlaps `out` so results match numpy's semantics;
//   3. releases the GIL (py::gil_scoped_release) and calls the plain C++
//      kernels from ring_ops / gemm / aes_ctr / fixed_point.
// No protocol logic lives here or in the kernels.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdio>
#include <string>
#include <vector>

#include "aes_ctr.hpp"
#include "common.hpp"
#include "compare.hpp"
#include "fixed_point.hpp"
#include "gemm.hpp"
#include "ring_ops.hpp"

#if defined(__has_include)
#if __has_include("safenet_build_config.hpp")
#include "safenet_build_config.hpp"
#endif
#endif
#ifndef SAFENET_BUILD_COMPILER
#define SAFENET_BUILD_COMPILER "unknown"
#define SAFENET_BUILD_FLAGS "unknown"
#define SAFENET_BUILD_ARCH "unknown"
#define SAFENET_BUILD_TYPE "unknown"
#define SAFENET_BUILD_SYSTEM_PROCESSOR "unknown"
#endif

namespace py = pybind11;
using namespace safenet;

namespace {

// ---------------------------------------------------------------- helpers

std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) {
        if (i) s += ", ";
        s += std::to_string(a.shape(i));
    }
    if (a.ndim() == 1) s += ",";
    return s + ")";
}

std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

std::string prefix(const char* fn, const char* name) { return std::string(fn) + ": " + name; }

bool is_c_contiguous(const py::array& a) { return (a.flags() & py::array::c_style) != 0; }

// Validate `obj` as a C-contiguous numpy array of the given dtype.
template <class T>
py::array check_array(const char* fn, const char* name, py::handle obj, const char* dtype_name) {
    if (!py::isinstance<py::array>(obj))
        throw py::type_error(prefix(fn, name) + " must be a numpy.ndarray with dtype " + dtype_name +
                             ", got " + type_name(obj));
    auto a = py::reinterpret_borrow<py::array>(obj);
    if (!a.dtype().equal(py::dtype::of<T>()))
        throw py::type_error(prefix(fn, name) + " has dtype " + std::string(py::str(a.dtype())) +
                             ", expected " + dtype_name);
    if (!is_c_contiguous(a))
        throw py::value_error(prefix(fn, name) + " with shape " + shape_str(a) +
                              " is not C-contiguous (use numpy.ascontiguousarray)");
    return a;
}

py::array check_u64(const char* fn, const char* name, py::handle obj) {
    return check_array<std::uint64_t>(fn, name, obj, "uint64");
}

bool same_shape(const py::array& a, const py::array& b) {
    if (a.ndim() != b.ndim()) return false;
    for (py::ssize_t i = 0; i < a.ndim(); ++i)
        if (a.shape(i) != b.shape(i)) return false;
    return true;
}

void check_same_shape(const char* fn, const char* name, const py::array& a, const char* ref_name,
                      const py::array& ref) {
    if (!same_shape(a, ref))
        throw py::value_error(prefix(fn, name) + " has shape " + shape_str(a) + " but " + ref_name +
                              " has shape " + shape_str(ref));
}

std::vector<py::ssize_t> shape_of(const py::array& a) {
    return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

// Fresh uint64 array of the given shape, or the validated `out`.
py::array get_out(const char* fn, py::handle out, const std::vector<py::ssize_t>& shape,
                  const char* ref_name, const py::array& ref) {
    if (out.is_none()) return py::array_t<std::uint64_t>(shape);
    py::array o = check_u64(fn, "out", out);
    if (!o.writeable()) throw py::value_error(prefix(fn, "out") + " is read-only");
    check_same_shape(fn, "out", o, ref_name, ref);
    return o;
}

py::array get_out(const char* fn, py::handle out, const char* ref_name, const py::array& ref) {
    return get_out(fn, out, shape_of(ref), ref_name, ref);
}

// An input that overlaps `out` without being exactly the same memory would be
// read after being partially overwritten; give the kernel a private copy.
py::array separate_from_out(const py::array& in, const py::array& out) {
    if (in.nbytes() == 0 || out.nbytes() == 0) return in;
    const char* a0 = static_cast<const char*>(in.data());
    const char* a1 = a0 + in.nbytes();
    const char* b0 = static_cast<const char*>(out.data());
    const char* b1 = b0 + out.nbytes();
    const bool overlap = a0 < b1 && b0 < a1;
    if (!overlap || a0 == b0) return in;
    return py::reinterpret_steal<py::array>(in.attr("copy")().release());
}

const std::uint64_t* cptr(const py::array& a) { return static_cast<const std::uint64_t*>(a.data()); }
std::uint64_t* mptr(py::array& a) { return static_cast<std::uint64_t*>(a.mutable_data()); }
std::size_t count(const py::array& a) { return static_cast<std::size_t>(a.size()); }

// Python int (or anything with __index__, but not float) -> uint64 in [0, 2**64).
std::uint64_t to_u64(const char* fn, const char* name, py::handle h) {
    if (PyFloat_Check(h.ptr()) || !PyIndex_Check(h.ptr()))
        throw py::type_error(prefix(fn, name) + " must be an int, got " + type_name(h));
    py::object idx = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
    if (!idx) throw py::error_already_set();
    unsigned long long v = PyLong_AsUnsignedLongLong(idx.ptr());
    if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
        PyErr_Clear();
        throw py::value_error(prefix(fn, name) + " must be in [0, 2**64), got " +
                              std::string(py::repr(idx)));
    }
    return static_cast<std::uint64_t>(v);
}

// Python int in [lo, hi] -> long long.
long long to_int_in(const char* fn, const char* name, py::handle h, long long lo, long long hi,
                    const char* range_text) {
    if (PyFloat_Check(h.ptr()) || !PyIndex_Check(h.ptr()))
        throw py::type_error(prefix(fn, name) + " must be an int, got " + type_name(h));
    py::object idx = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
    if (!idx) throw py::error_already_set();
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(idx.ptr(), &overflow);
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (overflow || v < lo || v > hi)
        throw py::value_error(prefix(fn, name) + " must be in " + range_text + ", got " +
                              std::string(py::repr(idx)));
    return v;
}

// 16-byte AES key from bytes / bytearray, copied out (so the GIL can be released).
void get_key(const char* fn, py::handle key, std::uint8_t out[16]) {
    const char* data = nullptr;
    Py_ssize_t len = 0;
    if (PyBytes_Check(key.ptr())) {
        data = PyBytes_AS_STRING(key.ptr());
        len = PyBytes_GET_SIZE(key.ptr());
    } else if (PyByteArray_Check(key.ptr())) {
        data = PyByteArray_AS_STRING(key.ptr());
        len = PyByteArray_GET_SIZE(key.ptr());
    } else {
        throw py::type_error(prefix(fn, "key") + " must be bytes, got " + type_name(key));
    }
    if (len != 16)
        throw py::value_error(prefix(fn, "key") + " must be exactly 16 bytes, got " +
                              std::to_string(len));
    std::memcpy(out, data, 16);
}

// ------------------------------------------------------- elementwise ops

using Bin = void (*)(const u64*, const u64*, u64*, std::size_t);

py::array binary_op(const char* fn, Bin kernel, py::handle a, py::handle b, py::handle out) {
    py::array A = check_u64(fn, "a", a);
    py::array B = check_u64(fn, "b", b);
    check_same_shape(fn, "b", B, "a", A);
    py::array O = get_out(fn, out, "a", A);
    A = separate_from_out(A, O);
    B = separate_from_out(B, O);
    const u64 *pa = cptr(A), *pb = cptr(B);
    u64* po = mptr(O);
    const std::size_t n = count(A);
    {
        py::gil_scoped_release release;
        kernel(pa, pb, po, n);
    }
    return O;
}

py::array py_neg(py::handle a, py::handle out) {
    const char* fn = "neg";
    py::array A = check_u64(fn, "a", a);
    py::array O = get_out(fn, out, "a", A);
    A = separate_from_out(A, O);
    const u64* pa = cptr(A);
    u64* po = mptr(O);
    const std::size_t n = count(A);
    {
        py::gil_scoped_release release;
        ring_neg(pa, po, n);
    }
    return O;
}

using Shift = void (*)(const u64*, unsigned, u64*, std::size_t);

py::array shift_op(const char* fn, Shift kernel, py::handle a, py::handle d, py::handle out) {
    py::array A = check_u64(fn, "a", a);
    const unsigned s = static_cast<unsigned>(to_int_in(fn, "d", d, 0, 63, "[0, 64)"));
    py::array O = get_out(fn, out, "a", A);
    A = separate_from_out(A, O);
    const u64* pa = cptr(A);
    u64* po = mptr(O);
    const std::size_t n = count(A);
    {
        py::gil_scoped_release release;
        kernel(pa, s, po, n);
    }
    return O;
}

// Shared validation for the (xa, xb, ya, yb[, zero]) local products.
struct Quad {
    py::array xa, xb, ya, yb, zero, out;
    bool has_zero = false;
};

Quad check_quad(const char* fn, py::handle xa, py::handle xb, py::handle ya, py::handle yb,
                py::handle zero, py::handle out) {
    Quad q;
    q.xa = check_u64(fn, "xa", xa);
    q.xb = check_u64(fn, "xb", xb);
    q.ya = check_u64(fn, "ya", ya);
    q.yb = check_u64(fn, "yb", yb);
    check_same_shape(fn, "xb", q.xb, "xa", q.xa);
    check_same_shape(fn, "ya", q.ya, "xa", q.xa);
    check_same_shape(fn, "yb", q.yb, "xa", q.xa);
    if (!zero.is_none()) {
        q.zero = check_u64(fn, "zero", zero);
        check_same_shape(fn, "zero", q.zero, "xa", q.xa);
        q.has_zero = true;
    }
    q.out = get_out(fn, out, "xa", q.xa);
    q.xa = separate_from_out(q.xa, q.out);
    q.xb = separate_from_out(q.xb, q.out);
    q.ya = separate_from_out(q.ya, q.out);
    q.yb = separate_from_out(q.yb, q.out);
    if (q.has_zero) q.zero = separate_from_out(q.zero, q.out);
    return q;
}

using QuadKernel = void (*)(const u64*, const u64*, const u64*, const u64*, const u64*, u64*,
                            std::size_t);

py::array quad_op(const char* fn, QuadKernel kernel, py::handle xa, py::handle xb, py::handle ya,
                  py::handle yb, py::handle zero, py::handle out) {
    Quad q = check_quad(fn, xa, xb, ya, yb, zero, out);
    const u64 *p0 = cptr(q.xa), *p1 = cptr(q.xb), *p2 = cptr(q.ya), *p3 = cptr(q.yb);
    const u64* pz = q.has_zero ? cptr(q.zero) : nullptr;
    u64* po = mptr(q.out);
    const std::size_t n = count(q.xa);
    {
        py::gil_scoped_release release;
        kernel(p0, p1, p2, p3, pz, po, n);
    }
    return q.out;
}

py::array py_cross2(py::handle xa, py::handle xb, py::handle ya, py::handle yb, py::handle out) {
    const char* fn = "cross2";
    Quad q = check_quad(fn, xa, xb, ya, yb, py::none(), out);
    const u64 *p0 = cptr(q.xa), *p1 = cptr(q.xb), *p2 = cptr(q.ya), *p3 = cptr(q.yb);
    u64* po = mptr(q.out);
    const std::size_t n = count(q.xa);
    {
        py::gil_scoped_release release;
        ring_cross2(p0, p1, p2, p3, po, n);
    }
    return q.out;
}

// ------------------------------------------------------------------ GEMM

py::array check_2d(const char* fn, const char* name, py::handle obj) {
    py::array a = check_u64(fn, name, obj);
    if (a.ndim() != 2)
        throw py::value_error(prefix(fn, name) + " must be 2-D, got shape " + shape_str(a));
    return a;
}

py::array new_matrix(std::size_t m, std::size_t n) {
    return py::array_t<std::uint64_t>(
        std::vector<py::ssize_t>{static_cast<py::ssize_t>(m), static_cast<py::ssize_t>(n)});
}

py::array py_matmul(py::handle a, py::handle b) {
    const char* fn = "matmul";
    py::array A = check_2d(fn, "A", a);
    py::array B = check_2d(fn, "B", b);
    if (A.shape(1) != B.shape(0))
        throw py::value_error(std::string(fn) + ": inner dimensions differ: A has shape " +
                              shape_str(A) + " but B has shape " + shape_str(B));
    const std::size_t m = A.shape(0), k = A.shape(1), n = B.shape(1);
    py::array C = new_matrix(m, n);
    const u64 *pa = cptr(A), *pb = cptr(B);
    u64* pc = mptr(C);
    {
        py::gil_scoped_release release;
        gemm(m, k, n, pa, pb, pc);
    }
    return C;
}

// Validation for XA, XB (m x k) and YA, YB (k x n); zero (m x n) optional.
struct GemmArgs {
    py::array xa, xb, ya, yb, zero;
    bool has_zero = false;
    std::size_t m = 0, k = 0, n = 0;
};

GemmArgs check_gemm_quad(const char* fn, py::handle xa, py::handle xb, py::handle ya,
                         py::handle yb, py::handle zero) {
    GemmArgs g;
    g.xa = check_2d(fn, "XA", xa);
    g.xb = check_2d(fn, "XB", xb);
    g.ya = check_2d(fn, "YA", ya);
    g.yb = check_2d(fn, "YB", yb);
    check_same_shape(fn, "XB", g.xb, "XA", g.xa);
    check_same_shape(fn, "YB", g.yb, "YA", g.ya);
    if (g.xa.shape(1) != g.ya.shape(0))
        throw py::value_error(std::string(fn) + ": inner dimensions differ: XA has shape " +
                              shape_str(g.xa) + " but YA has shape " + shape_str(g.ya));
    g.m = g.xa.shape(0);
    g.k = g.xa.shape(1);
    g.n = g.ya.shape(1);
    if (!zero.is_none()) {
        g.zero = check_2d(fn, "zero", zero);
        if (g.zero.shape(0) != g.xa.shape(0) || g.zero.shape(1) != g.ya.shape(1))
            throw py::value_error(prefix(fn, "zero") + " has shape " + shape_str(g.zero) +
                                  " but the product has shape (" + std::to_string(g.m) + ", " +
                                  std::to_string(g.n) + ")");
        g.has_zero = true;
    }
    return g;
}

py::array gemm_pair(const GemmArgs& g, const GemmSegment* segs) {
    py::array C = new_matrix(g.m, g.n);
    const u64* pz = g.has_zero ? cptr(g.zero) : nullptr;
    u64* pc = mptr(C);
    const std::size_t m = g.m, k = g.k, n = g.n;
    {
        py::gil_scoped_release release;
        gemm_segments(m, k, n, segs, 2, pz, pc);
    }
    return C;
}

py::array py_matmul_cross3(py::handle xa, py::handle xb, py::handle ya, py::handle yb,
                           py::handle zero) {
    GemmArgs g = check_gemm_quad("matmul_cross3", xa, xb, ya, yb, zero);
    // XA@YA + XA@YB + XB@YA = [XA | XB] @ [[YA + YB], [YA]]
    const GemmSegment segs[2] = {{cptr(g.xa), cptr(g.ya), cptr(g.yb)},
                                 {cptr(g.xb), cptr(g.ya), nullptr}};
    return gemm_pair(g, segs);
}

py::array py_matmul_cross2(py::handle xa, py::handle xb, py::handle ya, py::handle yb) {
    GemmArgs g = check_gemm_quad("matmul_cross2", xa, xb, ya, yb, py::none());
    // XA@YB + XB@YA = [XA | XB] @ [[YB], [YA]]
    const GemmSegment segs[2] = {{cptr(g.xa), cptr(g.yb), nullptr},
                                 {cptr(g.xb), cptr(g.ya), nullptr}};
    return gemm_pair(g, segs);
}

// ------------------------------------------------------------------- AES

using CtrKernel = void (*)(const u8*, u64, u64, u64*, std::size_t);

py::array aes_generic(const char* fn, CtrKernel kernel, py::handle key, py::handle nonce,
                      py::handle counter, py::handle n) {
    std::uint8_t k[16];
    get_key(fn, key, k);
    const u64 nv = to_u64(fn, "nonce", nonce);
    const u64 cv = to_u64(fn, "counter", counter);
    const long long len =
        to_int_in(fn, "n", n, 0, static_cast<long long>(PY_SSIZE_T_MAX / 8), "[0, 2**60)");
    py::array out = py::array_t<std::uint64_t>(static_cast<py::ssize_t>(len));
    u64* po = mptr(out);
    {
        py::gil_scoped_release release;
        kernel(k, nv, cv, po, static_cast<std::size_t>(len));
    }
    return out;
}

py::array py_aes_ctr_into(py::handle key, py::handle nonce, py::handle counter, py::handle out) {
    const char* fn = "aes_ctr_into";
    std::uint8_t k[16];
    get_key(fn, key, k);
    const u64 nv = to_u64(fn, "nonce", nonce);
    const u64 cv = to_u64(fn, "counter", counter);
    py::array O = check_u64(fn, "out", out);
    if (!O.writeable()) throw py::value_error(prefix(fn, "out") + " is read-only");
    u64* po = mptr(O);
    const std::size_t n = count(O);
    {
        py::gil_scoped_release release;
        aes128_ctr(k, nv, cv, po, n);
    }
    return O;
}

// ----------------------------------------------------------- fixed point

std::string index_str(const py::array& a, std::size_t flat) {
    if (a.ndim() == 1) return std::to_string(flat);
    std::vector<py::ssize_t> idx(a.ndim());
    for (py::ssize_t d = a.ndim() - 1; d >= 0; --d) {
        const std::size_t ext = static_cast<std::size_t>(a.shape(d));
        idx[d] = static_cast<py::ssize_t>(flat % ext);
        flat /= ext;
    }
    std::string s = "(";
    for (std::size_t i = 0; i < idx.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(idx[i]);
    }
    return s + ")";
}

py::array py_fx_encode(py::handle x, py::handle frac_bits) {
    const char* fn = "fx_encode";
    py::array X = check_array<double>(fn, "x", x, "float64");
    const int f = static_cast<int>(to_int_in(fn, "frac_bits", frac_bits, 0, 63, "[0, 63]"));
    py::array O = py::array_t<std::uint64_t>(shape_of(X));
    const double* px = static_cast<const double*>(X.data());
    u64* po = mptr(O);
    const std::size_t n = count(X);
    FxEncodeResult r;
    {
        py::gil_scoped_release release;
        r = fx_encode(px, n, f, po);
    }
    if (r.error != FxError::none) {
        const std::string where = std::string(fn) + ": x[" + index_str(X, r.index) + "] = " +
                                  std::string(py::repr(py::float_(r.value)));
        if (r.error == FxError::nan) throw py::value_error(where + " is NaN");
        if (r.error == FxError::inf) throw py::value_error(where + " is infinite");
        throw py::value_error(where + " is out of range for frac_bits=" + std::to_string(f) +
                              ": |x * 2**" + std::to_string(f) +
                              "| >= 2**63 is not representable in int64");
    }
    return O;
}

py::array py_fx_decode(py::handle u, py::handle frac_bits) {
    const char* fn = "fx_decode";
    py::array U = check_u64(fn, "u", u);
    const int f = static_cast<int>(to_int_in(fn, "frac_bits", frac_bits, 0, 63, "[0, 63]"));
    py::array O = py::array_t<double>(shape_of(U));
    const u64* pu = cptr(U);
    double* po = static_cast<double*>(O.mutable_data());
    const std::size_t n = count(U);
    {
        py::gil_scoped_release release;
        fx_decode(pu, n, f, po);
    }
    return O;
}

// ------------------------------------------------------------ build info

py::dict build_info() {
    py::dict d;
    d["version"] = "0.1.0";
    d["compiler"] = SAFENET_BUILD_COMPILER;
#if defined(__VERSION__)
    d["compiler_version_string"] = __VERSION__;
#endif
    d["flags"] = SAFENET_BUILD_FLAGS;
    d["arch"] = SAFENET_BUILD_ARCH;
    d["build_type"] = SAFENET_BUILD_TYPE;
    d["system_processor"] = SAFENET_BUILD_SYSTEM_PROCESSOR;
    d["aesni_compiled"] = aesni_compiled();
    d["aesni_runtime"] = aesni_available();
#if defined(__AVX2__)
    d["avx2_compiled"] = true;
#else
    d["avx2_compiled"] = false;
#endif
#if defined(__AVX512F__) && defined(__AVX512DQ__)
    d["avx512_compiled"] = true;  // AVX-512F + DQ (vpmullq)
#else
    d["avx512_compiled"] = false;
#endif
    const GemmParams gp = gemm_params();
    d["simd_bits"] = gp.vec_bits;
    py::dict g;
    g["mr"] = gp.mr;
    g["nr"] = gp.nr;
    g["kc"] = gp.kc;
    g["mc"] = gp.mc;
    g["nc"] = gp.nc;
    d["gemm_blocking"] = g;
    d["fx_rounding"] = "nearest, ties to even";
    return d;
}

// ------------------------------------------------------- comparison bits

std::size_t words_for_bits(std::size_t bits) { return (bits + 63) / 64; }

void check_cmp_args(const char* fn, int mode, int k, int g) {
    if (mode != 0 && mode != 1)
        throw py::value_error(prefix(fn, "mode") + " must be 0 (ltz) or 1 (eqz), got " +
                              std::to_string(mode));
    if (g != 1 && g != 2 && g != 4 && g != 8 && g != 16)
        throw py::value_error(prefix(fn, "g") + " must be 1, 2, 4, 8 or 16, got " +
                              std::to_string(g));
    const int used = mode == 0 ? k - 1 : k;
    if (k < 1 - mode || k > 64 || used > 4 * g)
        throw py::value_error(prefix(fn, "k") + " = " + std::to_string(k) +
                              " must be in [1, 64] (eqz: [0, 64]) and need at most 4*g = " +
                              std::to_string(4 * g) + " nibble bits");
}

py::array py_cmp_monomials(py::handle a, int mode, int k, int g) {
    const char* fn = "cmp_monomials";
    check_cmp_args(fn, mode, k, g);
    py::array A = check_u64(fn, "a", a);
    const std::size_t n = count(A);
    const std::size_t words = cmp_monomial_blocks(mode, g) * words_for_bits(n);
    py::array O = py::array_t<std::uint64_t>(static_cast<py::ssize_t>(words));
    const u64* pa = cptr(A);
    u64* po = mptr(O);
    {
        py::gil_scoped_release release;
        cmp_monomials(pa, n, mode, k, g, po, words);
    }
    return O;
}

py::array py_cmp_helper(py::handle alpha, py::handle b, int mode, int k, int g, bool add_const,
                        py::ssize_t wb) {
    const char* fn = "cmp_helper";
    check_cmp_args(fn, mode, k, g);
    py::array Al = check_u64(fn, "alpha", alpha);
    py::array B = check_u64(fn, "b", b);
    const std::size_t n = count(B);
    const std::size_t need = cmp_monomial_blocks(mode, g) * words_for_bits(n);
    if (count(Al) < need)
        throw py::value_error(prefix(fn, "alpha") + " has " + std::to_string(count(Al)) +
                              " words, " + std::to_string(need) + " needed for " +
                              std::to_string(n) + " elements");
    if (wb < 0 || static_cast<std::size_t>(wb) * 64 < n)
        throw py::value_error(prefix(fn, "wb") + " = " + std::to_string(wb) +
                              " words cannot hold " + std::to_string(n) + " bits");
    const int ng = mode == 0 ? 2 : 1;
    py::array O = py::array_t<std::uint64_t>(std::vector<py::ssize_t>{ng, g, wb});
    const u64 *pal = cptr(Al), *pb = cptr(B);
    u64* po = mptr(O);
    {
        py::gil_scoped_release release;
        cmp_helper(pal, pb, n, mode, k, g, add_const, static_cast<std::size_t>(wb), po);
    }
    return O;
}

py::object py_open_b2a(py::handle opened, py::ssize_t wb, std::vector<std::size_t> sizes,
                       py::handle r0, py::handle r1, bool pub0, bool pub1, py::handle ry0,
                       py::handle ry1, py::handle y0, py::handle y1) {
    const char* fn = "open_b2a";
    py::array O = check_u64(fn, "opened", opened);
    std::size_t n = 0;
    for (std::size_t s : sizes) {
        if (wb < 0 || s > static_cast<std::size_t>(wb) * 64)
            throw py::value_error(prefix(fn, "sizes") + ": a chunk does not fit wb words");
        n += s;
    }
    if (count(O) < sizes.size() * static_cast<std::size_t>(wb))
        throw py::value_error(prefix(fn, "opened") + " is shorter than chunks * wb words");
    py::array R0 = check_u64(fn, "r0", r0), R1 = check_u64(fn, "r1", r1);
    if (count(R0) != n || count(R1) != n)
        throw py::value_error(prefix(fn, "r0/r1") + " must have sum(sizes) elements");
    const bool mul = !ry0.is_none();
    py::array RY0, RY1, Y0, Y1;
    if (mul) {
        RY0 = check_u64(fn, "ry0", ry0);
        RY1 = check_u64(fn, "ry1", ry1);
        Y0 = check_u64(fn, "y0", y0);
        Y1 = check_u64(fn, "y1", y1);
        if (count(RY0) != n || count(RY1) != n || count(Y0) != n || count(Y1) != n)
            throw py::value_error(prefix(fn, "ry/y") + " must have sum(sizes) elements");
    }
    py::array A0 = py::array_t<std::uint64_t>(static_cast<py::ssize_t>(n));
    py::array A1 = py::array_t<std::uint64_t>(static_cast<py::ssize_t>(n));
    py::array P0, P1;
    if (mul) {
        P0 = py::array_t<std::uint64_t>(static_cast<py::ssize_t>(n));
        P1 = py::array_t<std::uint64_t>(static_cast<py::ssize_t>(n));
    }
    const u64 *po = cptr(O), *pr0 = cptr(R0), *pr1 = cptr(R1);
    const u64* pry0 = mul ? cptr(RY0) : nullptr;
    const u64* pry1 = mul ? cptr(RY1) : nullptr;
    const u64* py0 = mul ? cptr(Y0) : nullptr;
    const u64* py1 = mul ? cptr(Y1) : nullptr;
    u64 *pa0 = mptr(A0), *pa1 = mptr(A1);
    u64* pp0 = mul ? mptr(P0) : nullptr;
    u64* pp1 = mul ? mptr(P1) : nullptr;
    {
        py::gil_scoped_release release;
        open_b2a(po, static_cast<std::size_t>(wb), sizes.data(), static_cast<int>(sizes.size()),
                 pr0, pr1, pub0, pub1, pa0, pa1, pry0, pry1, py0, py1, pp0, pp1);
    }
    if (mul) return py::make_tuple(A0, A1, P0, P1);
    return py::make_tuple(A0, A1);
}

py::array py_dabit_leader(py::handle a, py::handle b, py::handle rho) {
    const char* fn = "dabit_leader";
    py::array A = check_u64(fn, "a", a), B = check_u64(fn, "b", b), R = check_u64(fn, "rho", rho);
    const std::size_t n = count(R);
    if (count(A) * 64 < n || count(B) * 64 < n)
        throw py::value_error(prefix(fn, "a/b") + " must hold a bit per element of rho");
    py::array O = py::array_t<std::uint64_t>(static_cast<py::ssize_t>(n));
    const u64 *pa = cptr(A), *pb = cptr(B), *pr = cptr(R);
    u64* po = mptr(O);
    {
        py::gil_scoped_release release;
        dabit_leader(pa, pb, pr, n, po);
    }
    return O;
}

py::tuple py_dabit_helper(int role, py::handle x, py::handle bits, py::handle kappa,
                          py::handle lam) {
    const char* fn = "dabit_helper";
    if (role != 1 && role != 2) throw py::value_error(prefix(fn, "role") + " must be 1 or 2");
    py::array X = check_u64(fn, "x", x), Bt = check_u64(fn, "bits", bits);
    py::array K = check_u64(fn, "kappa", kappa), L = check_u64(fn, "lam", lam);
    const std::size_t n = count(X);
    if (count(K) != n || count(L) != n || count(Bt) * 64 < n)
        throw py::value_error(prefix(fn, "kappa/lam/bits") + " do not match x");
    py::array M = py::array_t<std::uint64_t>(static_cast<py::ssize_t>(n));
    py::array A0 = py::array_t<std::uint64_t>(static_cast<py::ssize_t>(n));
    py::array A1 = py::array_t<std::uint64_t>(static_cast<py::ssize_t>(n));
    const u64 *px = cptr(X), *pb = cptr(Bt), *pk = cptr(K), *pl = cptr(L);
    u64 *pm = mptr(M), *p0 = mptr(A0), *p1 = mptr(A1);
    {
        py::gil_scoped_release release;
        dabit_helper(role, px, pb, pk, pl, n, pm, p0, p1);
    }
    return py::make_tuple(M, A0, A1);
}

py::array py_bit_column(py::handle x, int bit, py::ssize_t wb) {
    const char* fn = "bit_column";
    py::array X = check_u64(fn, "x", x);
    const std::size_t n = count(X);
    if (bit < 0 || bit > 63) throw py::value_error(prefix(fn, "bit") + " must be in [0, 64)");
    if (wb < 0 || static_cast<std::size_t>(wb) * 64 < n)
        throw py::value_error(prefix(fn, "wb") + " words cannot hold " + std::to_string(n) +
                              " bits");
    py::array O = py::array_t<std::uint64_t>(wb);
    const u64* px = cptr(X);
    u64* po = mptr(O);
    {
        py::gil_scoped_release release;
        bit_column(px, n, bit, static_cast<std::size_t>(wb), po);
    }
    return O;
}

}  // namespace

// ---------------------------------------------------------------- module

PYBIND11_MODULE(safenet_native, m) {
    m.doc() =
        "Native kernels for the safenet MPC engine: arithmetic over Z_2^64 on C-contiguous "
        "numpy uint64 arrays (wraparound), fused replicated-sharing local products, a blocked "
        "uint64 GEMM, AES-128-CTR (AES-NI or portable) and a fixed-point codec.  Every entry "
        "point validates its arguments first and then releases the GIL.";
    m.attr("__version__") = "0.1.0";

    m.def(
        "add",
        [](py::handle x, py::handle y, py::handle o) { return binary_op("add", ring_add, x, y, o); },
        py::arg("a"), py::arg("b"), py::arg("out") = py::none(), "a + b mod 2^64 (elementwise).");
    m.def(
        "sub",
        [](py::handle x, py::handle y, py::handle o) { return binary_op("sub", ring_sub, x, y, o); },
        py::arg("a"), py::arg("b"), py::arg("out") = py::none(), "a - b mod 2^64 (elementwise).");
    m.def(
        "mul",
        [](py::handle x, py::handle y, py::handle o) { return binary_op("mul", ring_mul, x, y, o); },
        py::arg("a"), py::arg("b"), py::arg("out") = py::none(), "a * b mod 2^64 (elementwise).");
    m.def("neg", &py_neg, py::arg("a"), py::arg("out") = py::none(), "-a mod 2^64 (elementwise).");

    m.def(
        "cross3",
        [](py::handle xa, py::handle xb, py::handle ya, py::handle yb, py::handle zero,
           py::handle o) { return quad_op("cross3", ring_cross3, xa, xb, ya, yb, zero, o); },
        py::arg("xa"), py::arg("xb"), py::arg("ya"), py::arg("yb"), py::arg("zero") = py::none(),
        py::arg("out") = py::none(),
        "xa*ya + xa*yb + xb*ya (+ zero) mod 2^64 in one fused elementwise pass "
        "(local product of 3-party replicated multiplication).");
    m.def("cross2", &py_cross2, py::arg("xa"), py::arg("xb"), py::arg("ya"), py::arg("yb"),
          py::arg("out") = py::none(), "xa*yb + xb*ya mod 2^64 (elementwise).");
    m.def(
        "and_cross3",
        [](py::handle xa, py::handle xb, py::handle ya, py::handle yb, py::handle zero,
           py::handle o) { return quad_op("and_cross3", ring_and_cross3, xa, xb, ya, yb, zero, o); },
        py::arg("xa"), py::arg("xb"), py::arg("ya"), py::arg("yb"), py::arg("zero") = py::none(),
        py::arg("out") = py::none(),
        "(xa&ya) ^ (xa&yb) ^ (xb&ya) (^ zero) on packed 64-bit words (boolean replicated AND).");

    m.def(
        "sar",
        [](py::handle x, py::handle d, py::handle o) { return shift_op("sar", ring_sar, x, d, o); },
        py::arg("a"), py::arg("d"), py::arg("out") = py::none(),
        "Arithmetic right shift by d (values read as int64), 0 <= d < 64.");
    m.def(
        "shr",
        [](py::handle x, py::handle d, py::handle o) { return shift_op("shr", ring_shr, x, d, o); },
        py::arg("a"), py::arg("d"), py::arg("out") = py::none(),
        "Logical right shift by d, 0 <= d < 64.");
    m.def(
        "shl",
        [](py::handle x, py::handle d, py::handle o) { return shift_op("shl", ring_shl, x, d, o); },
        py::arg("a"), py::arg("d"), py::arg("out") = py::none(),
        "Left shift by d mod 2^64, 0 <= d < 64.");

    m.def("matmul", &py_matmul, py::arg("A"), py::arg("B"),
          "A @ B mod 2^64 for 2-D uint64 A (m,k) and B (k,n); blocked single-threaded GEMM.");
    m.def("matmul_cross3", &py_matmul_cross3, py::arg("XA"), py::arg("XB"), py::arg("YA"),
          py::arg("YB"), py::arg("zero") = py::none(),
          "XA@YA + XA@YB + XB@YA (+ zero) mod 2^64, computed as [XA|XB] @ [[YA+YB],[YA]] "
          "in one blocked pass.");
    m.def("matmul_cross2", &py_matmul_cross2, py::arg("XA"), py::arg("XB"), py::arg("YA"),
          py::arg("YB"), "XA@YB + XB@YA mod 2^64.");

    m.def(
        "aes_ctr",
        [](py::handle key, py::handle nonce, py::handle counter, py::handle n) {
            return aes_generic("aes_ctr", aes128_ctr, key, nonce, counter, n);
        },
        py::arg("key"), py::arg("nonce"), py::arg("counter"), py::arg("n"),
        "n uint64 words of AES-128-CTR keystream: block i = nonce (LE u64) || counter+i (LE u64, "
        "wrapping); the ciphertext bytes are read as little-endian uint64.  AES-NI when the CPU "
        "has it, else portable software AES.");
    m.def(
        "aes_ctr_portable",
        [](py::handle key, py::handle nonce, py::handle counter, py::handle n) {
            return aes_generic("aes_ctr_portable", aes128_ctr_portable, key, nonce, counter, n);
        },
        py::arg("key"), py::arg("nonce"), py::arg("counter"), py::arg("n"),
        "Same as aes_ctr but always uses the portable software AES.");
    m.def("aes_ctr_into", &py_aes_ctr_into, py::arg("key"), py::arg("nonce"), py::arg("counter"),
          py::arg("out"),
          "Fill the uint64 array out (any shape, C-contiguous) with the first out.size words of "
          "the aes_ctr keystream; returns out.");
    m.def("has_aesni", &aesni_available,
          "True if the AES-NI path is compiled in and the CPU supports AES-NI.");

    m.def("fx_encode", &py_fx_encode, py::arg("x"), py::arg("frac_bits"),
          "round(x * 2^frac_bits) (to nearest, ties to even) as two's-complement uint64; raises "
          "ValueError for NaN, inf or |x * 2^frac_bits| >= 2^63.  x: C-contiguous float64 array.");
    m.def("fx_decode", &py_fx_decode, py::arg("u"), py::arg("frac_bits"),
          "int64(u) / 2^frac_bits as float64 (same shape).");

    m.def("cmp_monomials", &py_cmp_monomials, py::arg("a"), py::arg("mode"), py::arg("k"),
          py::arg("g"),
          "Leader's nibble monomials of the rep3 comparison (mode 0 ltz, 1 eqz; k bits; g "
          "nibbles): M bit-sliced blocks of ceil(n/64) words (see compare.hpp).");
    m.def("cmp_helper", &py_cmp_helper, py::arg("alpha"), py::arg("b"), py::arg("mode"),
          py::arg("k"), py::arg("g"), py::arg("add_const"), py::arg("wb"),
          "A helper's XOR share of the nibble generate/propagate bits of the rep3 comparison, "
          "as (ng, g, wb) bit blocks in bit-reversed nibble order (see compare.hpp).");
    m.def("open_b2a", &py_open_b2a, py::arg("opened"), py::arg("wb"), py::arg("sizes"),
          py::arg("r0"), py::arg("r1"), py::arg("pub0"), py::arg("pub1"),
          py::arg("ry0") = py::none(), py::arg("ry1") = py::none(), py::arg("y0") = py::none(),
          py::arg("y1") = py::none(),
          "B2A of opened daBit-masked bits (chunk c's bits at word c*wb): (r0', r1') with "
          "r_j' = (c ? -r_j : r_j) (+ c on the public slots), and the products "
          "(c ? -ry_j : ry_j) + c*y_j if ry0.. are given (see compare.hpp).");
    m.def("dabit_leader", &py_dabit_leader, py::arg("a"), py::arg("b"), py::arg("rho"),
          "daBit, leader: (bit e of a ^ b) - rho[e] (see compare.hpp).");
    m.def("dabit_helper", &py_dabit_helper, py::arg("role"), py::arg("x"), py::arg("bits"),
          py::arg("kappa"), py::arg("lam"),
          "daBit, helper 1 or 2: (message to the leader, arithmetic slot 0, slot 1) "
          "(see compare.hpp).");
    m.def("bit_column", &py_bit_column, py::arg("x"), py::arg("bit"), py::arg("wb"),
          "Bit `bit` of every element of x, packed little-endian into wb uint64 words.");

    m.def("build_info", &build_info, "How this extension was compiled (dict).");
}
