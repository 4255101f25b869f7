/* One-pass elementwise kernels for the training step (optional; see npkeras/backend.py).
 *
 * NumPy runs an expression such as Adam's update as one pass over memory per operator
 * (eleven for Adam), each reading and writing whole arrays; these loops do the same
 * arithmetic, in the same order and precision, in one pass. Built with
 * -ffp-contract=off so no multiply-add is fused: results equal the NumPy path bit for bit
 * (one exception: the relu gradient is 0 where the unit was off, as in PyTorch, even for
 * an infinite or NaN incoming gradient, where NumPy's product with the mask gives NaN).
 *
 * Arrays arrive through the buffer protocol (C-contiguous float32 or float64, no NumPy
 * headers needed); every length, type and writability is checked before any loop runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* x86-64 Linux with GCC: each loop is also compiled for AVX2 and AVX-512 and the widest
 * one the CPU has is picked at load time (2x faster Adam than the SSE2 baseline when
 * the arrays are in cache); elsewhere the portable build alone. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define WIDEST __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WIDEST
#endif

typedef struct {
    Py_buffer view;
    int held;
} Array;

static void release(Array *arrays, int count)
{
    for (int i = 0; i < count; i++) {
        if (arrays[i].held) {
            PyBuffer_Release(&arrays[i].view);
            arrays[i].held = 0;
        }
    }
}

/* 'f' -> 4, 'd' -> 8, anything else -> 0 */
static int item_kind(const Py_buffer *view)
{
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    if (strcmp(f, "f") == 0 && view->itemsize == 4) return 4;
    if (strcmp(f, "d") == 0 && view->itemsize == 8) return 8;
    return 0;
}

/* Acquire `obj` as a C-contiguous float buffer; all arrays of one call share a type. */
static int acquire(PyObject *obj, Array *arr, int writable, const char *name, int *kind)
{
    int flags = PyBUF_FORMAT | PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &arr->view, flags) < 0) {
        PyErr_Format(PyExc_TypeError,
                     "kernel argument `%s` must be a %sC-contiguous float32 or float64 array",
                     name, writable ? "writable " : "");
        return -1;
    }
    arr->held = 1;
    int k = item_kind(&arr->view);
    if (k == 0 || (*kind && k != *kind)) {
        PyErr_Format(PyExc_TypeError,
                     "kernel argument `%s` must be float32 or float64 like the other arrays "
                     "(received format '%s')", name, arr->view.format ? arr->view.format : "?");
        return -1;
    }
    *kind = k;
    return 0;
}

/* Acquire objs[0..count) (writable where bit i of `writable` is set), all of one float
 * type and one size; returns the element count, or -1 with an exception set. */
static Py_ssize_t acquire_same(PyObject **objs, Array *arrays, int count,
                               const char *const *names, unsigned writable, int *kind)
{
    for (int i = 0; i < count; i++)
        if (acquire(objs[i], &arrays[i], (writable >> i) & 1u, names[i], kind) < 0) return -1;
    for (int i = 1; i < count; i++) {
        if (arrays[i].view.len != arrays[0].view.len) {
            PyErr_Format(PyExc_ValueError,
                         "kernel arguments `%s` and `%s` must have the same size "
                         "(%zd and %zd bytes)", names[0], names[i],
                         arrays[0].view.len, arrays[i].view.len);
            return -1;
        }
    }
    return arrays[0].view.len / *kind;
}

/* ------------------------------------------------ rows over several threads ---- */

/* A kernel's work over items [start, stop) of its outer loop (batch entries, rows,
 * elements): items are independent, each written by one thread, so a split changes no
 * result, bit for bit. */
typedef void (*RangeKernel)(void *work, Py_ssize_t start, Py_ssize_t stop);

/* Below this many elements touched per part a split costs more than it saves (waking
 * a thread takes some microseconds; an element a fraction of a nanosecond). */
#define GRAIN 32768
#define MAX_THREADS 16
/* Parts per thread: whoever is free takes the next part, so a thread that starts late
 * (a busy machine) leaves its share to the others instead of holding them up. */
#define PARTS_PER_THREAD 4

static int thread_count = 1; /* set_threads(); 1 until npkeras.backend sets it */

#ifdef _WIN32
static void parallel_for(Py_ssize_t count, Py_ssize_t elements_per_item, RangeKernel f,
                         void *work)
{
    (void)elements_per_item;
    f(work, 0, count);
}
#else
#include <pthread.h>

/* Workers, started on first use, sleep on `wake` between jobs. One job at a time: a call
 * that finds the pool busy (another Python thread, the GIL released) runs alone. */
static struct {
    pthread_mutex_t busy, lock;
    pthread_cond_t wake, done;
    int started;          /* workers running (the caller is not one) */
    int helpers;          /* workers 1..helpers take part in the current job */
    unsigned long job;    /* bumped for each job */
    RangeKernel f;
    void *work;
    Py_ssize_t count;
    int parts, next_part; /* parts of the job, the first not yet taken */
    int working;          /* workers inside a part */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER};

/* Run parts of the current job until none is left; called and returns with pool.lock
 * held. Each part is an independent slice of the items, whoever runs it. */
static void take_parts(int worker)
{
    while (pool.next_part < pool.parts) {
        const int part = pool.next_part++, parts = pool.parts;
        const RangeKernel f = pool.f;
        void *work = pool.work;
        const Py_ssize_t count = pool.count;
        pool.working += worker;
        pthread_mutex_unlock(&pool.lock);
        f(work, count * part / parts, count * (part + 1) / parts);
        pthread_mutex_lock(&pool.lock);
        pool.working -= worker;
    }
}

/* A job a worker misses (it started or woke late) is done by the others. */
static void *worker(void *arg)
{
    const int index = (int)(size_t)arg;
    pthread_mutex_lock(&pool.lock);
    unsigned long seen = pool.job;
    for (;;) {
        while (pool.job == seen) pthread_cond_wait(&pool.wake, &pool.lock);
        seen = pool.job;
        if (index <= pool.helpers) take_parts(1);
        if (pool.working == 0) pthread_cond_signal(&pool.done);
    }
    return NULL;
}

/* Start workers until `wanted` run (with pool.lock held); how many run after. */
static int start_workers(int wanted)
{
    while (pool.started < wanted) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attr, worker, (void *)(size_t)(pool.started + 1));
        pthread_attr_destroy(&attr);
        if (failed) break;
        pool.started++;
    }
    return pool.started;
}

/* A forked child has none of the parent's threads: it starts its own when it needs them. */
static void forget_workers(void)
{
    pthread_mutex_init(&pool.busy, NULL);
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.started = 0;
    pool.working = 0;
}

/* f(work, start, stop) over consecutive slices of [0, count) on up to `thread_count`
 * threads (the caller one of them) when every slice touches at least GRAIN elements;
 * in the calling thread alone otherwise. Call without the GIL. */
static void parallel_for(Py_ssize_t count, Py_ssize_t elements_per_item, RangeKernel f,
                         void *work)
{
    const Py_ssize_t fit = count * elements_per_item / GRAIN;
    const int threads = fit < thread_count ? (int)fit : thread_count;
    if (threads < 2 || pthread_mutex_trylock(&pool.busy) != 0) {
        f(work, 0, count);
        return;
    }
    pthread_mutex_lock(&pool.lock);
    const int started = start_workers(threads - 1);
    const int helpers = started < threads - 1 ? started : threads - 1;
    const Py_ssize_t most = (Py_ssize_t)(helpers + 1) * PARTS_PER_THREAD;
    pool.helpers = helpers;
    pool.f = f;
    pool.work = work;
    pool.count = count;
    pool.parts = (int)(fit < most ? fit : most);
    pool.parts = pool.parts < count ? pool.parts : (int)count;
    pool.next_part = 0;
    pool.job++;
    pthread_cond_broadcast(&pool.wake);
    take_parts(0);
    while (pool.working) pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.busy);
}
#endif

/* set_threads(n): the threads a large kernel call may use (1 to MAX_THREADS). */
static PyObject *set_threads(PyObject *self, PyObject *args)
{
    int threads;
    if (!PyArg_ParseTuple(args, "i:set_threads", &threads)) return NULL;
    if (threads < 1) {
        PyErr_Format(PyExc_ValueError, "set_threads expects a positive thread count, "
                     "received %d", threads);
        return NULL;
    }
    thread_count = threads < MAX_THREADS ? threads : MAX_THREADS;
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- Adam -------- */

#define DEFINE_ADAM(T, SQRT)                                                           \
    WIDEST static void adam_##T(T *v, const T *g, T *m, T *vel, T *vel_hat, Py_ssize_t n,     \
                         double alpha, double beta_1, double beta_2, double epsilon)   \
    {                                                                                  \
        const T c1 = (T)(1.0 - beta_1), c2 = (T)(1.0 - beta_2);                        \
        const T a = (T)alpha, eps = (T)epsilon;                                        \
        for (Py_ssize_t i = 0; i < n; i++) {                                           \
            T gi = g[i];                                                               \
            T mi = m[i] + (gi - m[i]) * c1;                                            \
            T vi = vel[i] + (gi * gi - vel[i]) * c2;                                   \
            m[i] = mi;                                                                 \
            vel[i] = vi;                                                               \
            if (vel_hat) {                                                             \
                vi = vel_hat[i] > vi ? vel_hat[i] : vi;                                \
                vel_hat[i] = vi;                                                       \
            }                                                                          \
            v[i] -= mi / (SQRT(vi) + eps) * a;                                         \
        }                                                                              \
    }
DEFINE_ADAM(float, sqrtf)
DEFINE_ADAM(double, sqrt)

static PyObject *adam(PyObject *self, PyObject *args)
{
    PyObject *objs[5];
    double alpha, beta_1, beta_2, epsilon;
    if (!PyArg_ParseTuple(args, "OOOOOdddd:adam", &objs[0], &objs[1], &objs[2], &objs[3],
                          &objs[4], &alpha, &beta_1, &beta_2, &epsilon))
        return NULL;
    static const char *const names[] = {"variable", "gradient", "momentum", "velocity",
                                        "velocity_hat"};
    const int count = objs[4] == Py_None ? 4 : 5;
    Array arrays[5];
    memset(arrays, 0, sizeof arrays);
    int kind = 0;
    Py_ssize_t n = acquire_same(objs, arrays, count, names, ~2u, &kind);  /* g read-only */
    if (n < 0) goto fail;
    Py_BEGIN_ALLOW_THREADS
    if (kind == 4)
        adam_float(arrays[0].view.buf, arrays[1].view.buf, arrays[2].view.buf,
                   arrays[3].view.buf, count == 5 ? arrays[4].view.buf : NULL, n,
                   alpha, beta_1, beta_2, epsilon);
    else
        adam_double(arrays[0].view.buf, arrays[1].view.buf, arrays[2].view.buf,
                    arrays[3].view.buf, count == 5 ? arrays[4].view.buf : NULL, n,
                    alpha, beta_1, beta_2, epsilon);
    Py_END_ALLOW_THREADS
    release(arrays, count);
    Py_RETURN_NONE;
fail:
    release(arrays, count);
    return NULL;
}

/* ---------------------------------------------------------------- SGD --------- */

#define DEFINE_SGD(T)                                                                  \
    WIDEST static void sgd_##T(T *v, const T *g, T *m, Py_ssize_t n, double lr,               \
                        double momentum, int nesterov)                                 \
    {                                                                                  \
        const T rate = (T)lr, mu = (T)momentum;                                        \
        if (!m) {                                                                      \
            for (Py_ssize_t i = 0; i < n; i++) v[i] -= g[i] * rate;                    \
            return;                                                                    \
        }                                                                              \
        for (Py_ssize_t i = 0; i < n; i++) {                                           \
            T step = g[i] * rate;                                                      \
            T mi = m[i] * mu - step;                                                   \
            m[i] = mi;                                                                 \
            if (nesterov) {                                                            \
                v[i] -= step;                                                          \
                v[i] += mi * mu;                                                       \
            } else {                                                                   \
                v[i] += mi;                                                            \
            }                                                                          \
        }                                                                              \
    }
DEFINE_SGD(float)
DEFINE_SGD(double)

static PyObject *sgd(PyObject *self, PyObject *args)
{
    PyObject *objs[3];
    double lr, momentum;
    int nesterov;
    if (!PyArg_ParseTuple(args, "OOOddp:sgd", &objs[0], &objs[1], &objs[2], &lr, &momentum,
                          &nesterov))
        return NULL;
    static const char *const names[] = {"variable", "gradient", "momentum"};
    const int count = objs[2] == Py_None ? 2 : 3;
    Array arrays[3];
    memset(arrays, 0, sizeof arrays);
    int kind = 0;
    Py_ssize_t n = acquire_same(objs, arrays, count, names, ~2u, &kind);  /* g read-only */
    if (n < 0) goto fail;
    void *m = count == 3 ? arrays[2].view.buf : NULL;
    Py_BEGIN_ALLOW_THREADS
    if (kind == 4)
        sgd_float(arrays[0].view.buf, arrays[1].view.buf, m, n, lr, momentum, nesterov);
    else
        sgd_double(arrays[0].view.buf, arrays[1].view.buf, m, n, lr, momentum, nesterov);
    Py_END_ALLOW_THREADS
    release(arrays, count);
    Py_RETURN_NONE;
fail:
    release(arrays, count);
    return NULL;
}

/* ---------------------------------------------------------------- ReLU -------- */

#define DEFINE_RELU_GRAD(T)                                                            \
    WIDEST static void relu_grad_##T(const T *dy, const T *y, T *out, Py_ssize_t n)           \
    {                                                                                  \
        for (Py_ssize_t i = 0; i < n; i++) {                                           \
            T d = dy[i];                                                               \
            out[i] = y[i] > 0 ? d : 0;                                                 \
        }                                                                              \
    }
DEFINE_RELU_GRAD(float)
DEFINE_RELU_GRAD(double)

typedef struct {
    const char *dy, *y;
    char *out;
    int kind;
} ReluGrad;

static void relu_grad_range(void *work, Py_ssize_t start, Py_ssize_t stop)
{
    const ReluGrad *w = work;
    Py_ssize_t at = start * w->kind;
    if (w->kind == 4)
        relu_grad_float((const float *)(w->dy + at), (const float *)(w->y + at),
                        (float *)(w->out + at), stop - start);
    else
        relu_grad_double((const double *)(w->dy + at), (const double *)(w->y + at),
                         (double *)(w->out + at), stop - start);
}

/* relu_grad(dy, y, out): out = dy where y > 0, else 0 */
static PyObject *relu_grad(PyObject *self, PyObject *args)
{
    PyObject *objs[3];
    if (!PyArg_ParseTuple(args, "OOO:relu_grad", &objs[0], &objs[1], &objs[2])) return NULL;
    static const char *const names[] = {"dy", "y", "out"};
    Array arrays[3];
    memset(arrays, 0, sizeof arrays);
    int kind = 0;
    Py_ssize_t n = acquire_same(objs, arrays, 3, names, 4u, &kind);  /* only out written */
    if (n < 0) goto fail;
    ReluGrad work = {arrays[0].view.buf, arrays[1].view.buf, arrays[2].view.buf, kind};
    Py_BEGIN_ALLOW_THREADS
    parallel_for(n, 1, relu_grad_range, &work);
    Py_END_ALLOW_THREADS
    release(arrays, 3);
    Py_RETURN_NONE;
fail:
    release(arrays, 3);
    return NULL;
}

/* ------------------------------------------------------------- finiteness ---- */

/* Whether every element is finite: an exponent field of all ones marks infinity and NaN.
 * The test runs on the bits as integers, so the loop vectorises and no float flag is
 * raised; one OR over the whole array, no early exit (the common case reads it all). */
#define DEFINE_ALL_FINITE(T, U, EXPONENT)                                              \
    WIDEST static int all_finite_##T(const U *bits, Py_ssize_t n)                       \
    {                                                                                  \
        U bad = 0;                                                                     \
        for (Py_ssize_t i = 0; i < n; i++)                                             \
            bad |= (U)((bits[i] & EXPONENT) == EXPONENT);                              \
        return bad == 0;                                                               \
    }
DEFINE_ALL_FINITE(float, uint32_t, 0x7f800000u)
DEFINE_ALL_FINITE(double, uint64_t, 0x7ff0000000000000ull)

static PyObject *all_finite(PyObject *self, PyObject *args)
{
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "O:all_finite", &obj)) return NULL;
    Array array;
    memset(&array, 0, sizeof array);
    int kind = 0;
    if (acquire(obj, &array, 0, "a", &kind) < 0) {
        release(&array, 1);
        return NULL;
    }
    Py_ssize_t n = array.view.len / kind;
    int finite;
    Py_BEGIN_ALLOW_THREADS
    finite = kind == 4 ? all_finite_float(array.view.buf, n) : all_finite_double(array.view.buf, n);
    Py_END_ALLOW_THREADS
    release(&array, 1);
    return PyBool_FromLong(finite);
}

/* ------------------------------------------------ kernels over the rows of z ---- */

/* f(z, vector, rows, cols) on a non-empty z (..., cols) with rows = its size / cols */
typedef void (*RowsKernel)(void *z, void *vector, Py_ssize_t rows, Py_ssize_t cols);

typedef struct {
    RowsKernel f;
    char *z, *vector;
    Py_ssize_t cols, row_bytes, vector_step; /* vector_step: 0 for one value per column */
} Rows;

static void rows_range(void *work, Py_ssize_t start, Py_ssize_t stop)
{
    const Rows *w = work;
    w->f(w->z + start * w->row_bytes, w->vector + start * w->vector_step, stop - start, w->cols);
}

/* Parse (z, vector), check that the vector holds one value per row (per_row) or per
 * column of z, and run the float32 or float64 kernel without the GIL. */
static PyObject *call_rows(PyObject *args, const char *format, const char *const *names,
                           unsigned writable, int per_row, RowsKernel f32, RowsKernel f64)
{
    PyObject *objs[2];
    if (!PyArg_ParseTuple(args, format, &objs[0], &objs[1])) return NULL;
    Array arrays[2];
    memset(arrays, 0, sizeof arrays);
    int kind = 0;
    for (int i = 0; i < 2; i++)
        if (acquire(objs[i], &arrays[i], (writable >> i) & 1u, names[i], &kind) < 0) goto fail;
    const Py_buffer *z = &arrays[0].view;
    Py_ssize_t cols = z->ndim ? z->shape[z->ndim - 1] : 0;
    Py_ssize_t rows = cols ? z->len / kind / cols : 0;
    Py_ssize_t values = arrays[1].view.len / kind;
    if (cols == 0 || values != (per_row ? rows : cols)) {
        PyErr_Format(PyExc_ValueError,
                     "kernel argument `%s` (%zd values) must hold one value per %s of a "
                     "non-empty `%s` (%zd rows of %zd)", names[1], values,
                     per_row ? "row" : "column", names[0], rows, cols);
        goto fail;
    }
    Rows work = {kind == 4 ? f32 : f64, arrays[0].view.buf, arrays[1].view.buf, cols,
                 cols * kind, per_row ? kind : 0};
    Py_BEGIN_ALLOW_THREADS
    parallel_for(rows, cols, rows_range, &work);
    Py_END_ALLOW_THREADS
    release(arrays, 2);
    Py_RETURN_NONE;
fail:
    release(arrays, 2);
    return NULL;
}

#define DEFINE_BIAS_RELU(T)                                                            \
    WIDEST static void bias_relu_##T(void *z_, void *bias, Py_ssize_t rows,            \
                                     Py_ssize_t cols)                                  \
    {                                                                                  \
        T *z = z_;                                                                     \
        const T *b = bias;                                                             \
        for (Py_ssize_t r = 0; r < rows; r++, z += cols)                               \
            for (Py_ssize_t c = 0; c < cols; c++) {                                    \
                T s = z[c] + b[c];                                                     \
                z[c] = s < 0 ? 0 : s; /* NaN stays NaN, as in np.maximum */            \
            }                                                                          \
    }
DEFINE_BIAS_RELU(float)
DEFINE_BIAS_RELU(double)

/* bias_relu(z, bias): z = max(z + bias, 0) in place; z (..., units), bias (units,) */
static PyObject *bias_relu(PyObject *self, PyObject *args)
{
    static const char *const names[] = {"z", "bias"};
    return call_rows(args, "OO:bias_relu", names, 1u, 0, bias_relu_float, bias_relu_double);
}

#define DEFINE_ROW_MAX(T)                                                              \
    WIDEST static void row_max_##T(void *z_, void *out_, Py_ssize_t rows, Py_ssize_t cols) \
    {                                                                                  \
        const T *z = z_;                                                               \
        T *out = out_;                                                                 \
        for (Py_ssize_t r = 0; r < rows; r++, z += cols) {                             \
            T top = z[0];                                                              \
            for (Py_ssize_t c = 1; c < cols; c++)                                      \
                if (z[c] > top || z[c] != z[c]) top = z[c]; /* NaN wins, as in max */  \
            out[r] = top;                                                              \
        }                                                                              \
    }
DEFINE_ROW_MAX(float)
DEFINE_ROW_MAX(double)

/* row_max(z, out): out[r] = the max over the last axis of z. NumPy's reduction along a
 * short last axis costs ~45 ns a row; this loop ~3. */
static PyObject *row_max(PyObject *self, PyObject *args)
{
    static const char *const names[] = {"z", "out"};
    return call_rows(args, "OO:row_max", names, 2u, 1, row_max_float, row_max_double);
}

/* ------------------------------------------- sparse gradient of an Embedding ---- */

#define DEFINE_SCATTER_ADD_ROWS(T)                                                     \
    WIDEST static void scatter_add_rows_##T(T *table, const long long *ids, const T *rows, \
                                            Py_ssize_t n, Py_ssize_t cols)             \
    {                                                                                  \
        for (Py_ssize_t i = 0; i < n; i++, rows += cols) {                             \
            T *row = table + (Py_ssize_t)ids[i] * cols;                                \
            for (Py_ssize_t c = 0; c < cols; c++) row[c] += rows[c];                   \
        }                                                                              \
    }
DEFINE_SCATTER_ADD_ROWS(float)
DEFINE_SCATTER_ADD_ROWS(double)

/* scatter_add_rows(table, ids, rows): table[ids[i]] += rows[i] for every i in order,
 * repeated ids included (NumPy's add.at, ~50x faster for 12,800 rows of 32);
 * table (vocabulary, cols), ids int64 (n,), rows (n, cols). Every id is checked before
 * any row is added. */
static PyObject *scatter_add_rows(PyObject *self, PyObject *args)
{
    PyObject *objs[3];
    if (!PyArg_ParseTuple(args, "OOO:scatter_add_rows", &objs[0], &objs[1], &objs[2]))
        return NULL;
    Array arrays[3];
    memset(arrays, 0, sizeof arrays);
    int kind = 0;
    if (acquire(objs[0], &arrays[0], 1, "table", &kind) < 0) goto fail;
    if (acquire(objs[2], &arrays[2], 0, "rows", &kind) < 0) goto fail;
    if (PyObject_GetBuffer(objs[1], &arrays[1].view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
        goto fail;
    arrays[1].held = 1;
    const char *f = arrays[1].view.format ? arrays[1].view.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    if (arrays[1].view.itemsize != 8 || (strcmp(f, "q") != 0 && strcmp(f, "l") != 0)) {
        PyErr_SetString(PyExc_TypeError, "kernel argument `ids` must be a C-contiguous int64 array");
        goto fail;
    }
    const Py_buffer *table = &arrays[0].view;
    Py_ssize_t cols = table->ndim == 2 ? table->shape[1] : 0;
    Py_ssize_t vocabulary = table->ndim == 2 ? table->shape[0] : 0;
    Py_ssize_t n = arrays[1].view.len / 8;
    if (cols == 0 || arrays[2].view.len != n * cols * kind) {
        PyErr_Format(PyExc_ValueError,
                     "kernel arguments: `table` must be 2-D and `rows` hold one row of its "
                     "width per id (%zd ids, %zd bytes of rows)", n, arrays[2].view.len);
        goto fail;
    }
    const long long *ids = arrays[1].view.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= vocabulary) {
            PyErr_Format(PyExc_IndexError, "id %lld is outside the table's %zd rows",
                         ids[i], vocabulary);
            goto fail;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    if (kind == 4)
        scatter_add_rows_float(table->buf, ids, arrays[2].view.buf, n, cols);
    else
        scatter_add_rows_double(table->buf, ids, arrays[2].view.buf, n, cols);
    Py_END_ALLOW_THREADS
    release(arrays, 3);
    Py_RETURN_NONE;
fail:
    release(arrays, 3);
    return NULL;
}

/* ------------------------------------------- exp, sigmoid and tanh (sequences) ---- */

/* float32 exp as a polynomial that the compiler vectorises (NumPy's float32 exp is a
 * separate pass per operator and 2-5x slower here): 2^n e^r with n = round(x / ln 2),
 * |r| <= ln(2) / 2, e^r by a degree-6 Taylor-like minimax polynomial (Cephes' expf
 * coefficients). Relative error <= 2e-7 (2 ulp) against the exact value on [-87.3, 88.7];
 * above that +inf, below it 0 (NumPy gives subnormals down to -103.9: an absolute
 * difference under 1.2e-38); NaN stays NaN. float64 uses the C library's exp. */
static inline float exp_fast_float(float x)
{
    const float hi = 88.7228f, lo = -87.3365f;
    float clamped = x > hi ? hi : (x < lo ? lo : x);
    /* round to nearest by the 1.5 * 2^23 trick: plain arithmetic, so it vectorises */
    float n = (clamped * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = clamped - n * 0.693359375f;  /* ln 2 in two parts: exact product for n */
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int bits = ((int)n + 127) << 23;  /* 2^n, n in [-126, 128): a normal float */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    y = x > hi ? INFINITY : y;
    y = x < lo ? 0.0f : y;
    return x != x ? x : y;
}

static inline double exp_fast_double(double x) { return exp(x); }

#define SIGMOID(T, x) ((T)1 / ((T)1 + exp_fast_##T(-(x))))
#define TANH(T, x) ((T)2 / ((T)1 + exp_fast_##T((T)-2 * (x))) - (T)1)

/* One LSTM step on batch-first rows, gate order i, f, c (g), o:
 * gates (rows, 4u): h_prev @ recurrent_kernel on entry, the activated gates on exit;
 * xw (rows, 4u): the input part (x @ kernel + bias); c_prev (rows, u): the previous cell
 * state; outputs c, tanh_c and h (rows, u). */
#define DEFINE_LSTM_STEP(T)                                                            \
    WIDEST static void lstm_step_##T(T *restrict gates, const T *restrict xw,          \
                                     const T *restrict c_prev, T *restrict c,          \
                                     T *restrict tanh_c, T *restrict h, Py_ssize_t rows, \
                                     Py_ssize_t u)                                     \
    {                                                                                  \
        for (Py_ssize_t b = 0; b < rows; b++) {                                        \
            T *restrict g4 = gates + b * 4 * u;                                        \
            const T *restrict x4 = xw + b * 4 * u;                                     \
            Py_ssize_t s = b * u;                                                      \
            for (Py_ssize_t j = 0; j < u; j++) {                                       \
                T i = SIGMOID(T, g4[j] + x4[j]);                                       \
                T f = SIGMOID(T, g4[u + j] + x4[u + j]);                               \
                T g = TANH(T, g4[2 * u + j] + x4[2 * u + j]);                          \
                T o = SIGMOID(T, g4[3 * u + j] + x4[3 * u + j]);                       \
                T ct = f * c_prev[s + j] + i * g;                                      \
                T tc = TANH(T, ct);                                                    \
                g4[j] = i;                                                             \
                g4[u + j] = f;                                                         \
                g4[2 * u + j] = g;                                                     \
                g4[3 * u + j] = o;                                                     \
                c[s + j] = ct;                                                         \
                tanh_c[s + j] = tc;                                                    \
                h[s + j] = o * tc;                                                     \
            }                                                                          \
        }                                                                              \
    }
DEFINE_LSTM_STEP(float)
DEFINE_LSTM_STEP(double)

/* Its gradient: dh (rows, u) = dL/dh_t; dc (rows, u) = dL/dc_t from the later steps on
 * entry, dL/dc_{t-1} on exit; dgates (rows, 4u) = dL/d(pre-activations). */
#define DEFINE_LSTM_STEP_BACKWARD(T)                                                   \
    WIDEST static void lstm_step_backward_##T(const T *restrict gates,                 \
                                              const T *restrict c_prev,                \
                                              const T *restrict tanh_c,                \
                                              const T *restrict dh, T *restrict dc,    \
                                              T *restrict dgates, Py_ssize_t rows,     \
                                              Py_ssize_t u)                            \
    {                                                                                  \
        for (Py_ssize_t b = 0; b < rows; b++) {                                        \
            const T *restrict g4 = gates + b * 4 * u;                                  \
            T *restrict d4 = dgates + b * 4 * u;                                       \
            Py_ssize_t s = b * u;                                                      \
            for (Py_ssize_t j = 0; j < u; j++) {                                       \
                T i = g4[j], f = g4[u + j], g = g4[2 * u + j], o = g4[3 * u + j];      \
                T tc = tanh_c[s + j], dhj = dh[s + j];                                 \
                T dct = dc[s + j] + dhj * o * ((T)1 - tc * tc);                        \
                d4[j] = dct * g * (i * ((T)1 - i));                                    \
                d4[u + j] = dct * c_prev[s + j] * (f * ((T)1 - f));                    \
                d4[2 * u + j] = dct * i * ((T)1 - g * g);                              \
                d4[3 * u + j] = dhj * tc * (o * ((T)1 - o));                           \
                dc[s + j] = dct * f;                                                   \
            }                                                                          \
        }                                                                              \
    }
DEFINE_LSTM_STEP_BACKWARD(float)
DEFINE_LSTM_STEP_BACKWARD(double)

/* One GRU step with the reset gate after the recurrent product (Keras's reset_after,
 * torch's GRU), gate order z, r, h: inner (rows, 3u) = h_prev @ recurrent_kernel +
 * recurrent bias; xw (rows, 3u) the input part; outputs gates (rows, 3u) = z, r, hh and
 * h = hh + z (h_prev - hh). */
#define DEFINE_GRU_STEP(T)                                                             \
    WIDEST static void gru_step_##T(T *restrict gates, const T *restrict inner,        \
                                    const T *restrict xw, const T *restrict h_prev,    \
                                    T *restrict h, Py_ssize_t rows, Py_ssize_t u)      \
    {                                                                                  \
        for (Py_ssize_t b = 0; b < rows; b++) {                                        \
            T *restrict g3 = gates + b * 3 * u;                                        \
            const T *restrict n3 = inner + b * 3 * u, *x3 = xw + b * 3 * u;            \
            Py_ssize_t s = b * u;                                                      \
            for (Py_ssize_t j = 0; j < u; j++) {                                       \
                T z = SIGMOID(T, x3[j] + n3[j]);                                       \
                T r = SIGMOID(T, x3[u + j] + n3[u + j]);                               \
                T hh = TANH(T, x3[2 * u + j] + r * n3[2 * u + j]);                     \
                g3[j] = z;                                                             \
                g3[u + j] = r;                                                         \
                g3[2 * u + j] = hh;                                                    \
                h[s + j] = hh + z * (h_prev[s + j] - hh);                              \
            }                                                                          \
        }                                                                              \
    }
DEFINE_GRU_STEP(float)
DEFINE_GRU_STEP(double)

/* Its gradient: dh (rows, u) = dL/dh_t on entry, its direct part z dh on exit; dxw
 * (rows, 3u) = dL/d(input part of each pre-activation); dinner (rows, 3u) = dL/dinner. */
#define DEFINE_GRU_STEP_BACKWARD(T)                                                    \
    WIDEST static void gru_step_backward_##T(const T *restrict gates,                  \
                                             const T *restrict inner,                  \
                                             const T *restrict h_prev, T *restrict dh, \
                                             T *restrict dxw, T *restrict dinner,      \
                                             Py_ssize_t rows, Py_ssize_t u)            \
    {                                                                                  \
        for (Py_ssize_t b = 0; b < rows; b++) {                                        \
            const T *restrict g3 = gates + b * 3 * u, *n3 = inner + b * 3 * u;         \
            T *restrict dx3 = dxw + b * 3 * u, *dn3 = dinner + b * 3 * u;              \
            Py_ssize_t s = b * u;                                                      \
            for (Py_ssize_t j = 0; j < u; j++) {                                       \
                T z = g3[j], r = g3[u + j], hh = g3[2 * u + j], dhj = dh[s + j];       \
                T dz = dhj * (h_prev[s + j] - hh) * (z * ((T)1 - z));                  \
                T dhh = dhj * ((T)1 - z) * ((T)1 - hh * hh);                           \
                T dr = dhh * n3[2 * u + j] * (r * ((T)1 - r));                         \
                dx3[j] = dz;                                                           \
                dx3[u + j] = dr;                                                       \
                dx3[2 * u + j] = dhh;                                                  \
                dn3[j] = dz;                                                           \
                dn3[u + j] = dr;                                                       \
                dn3[2 * u + j] = dhh * r;                                              \
                dh[s + j] = dhj * z;                                                   \
            }                                                                          \
        }                                                                              \
    }
DEFINE_GRU_STEP_BACKWARD(float)
DEFINE_GRU_STEP_BACKWARD(double)

/* Acquire `count` arrays: the first `wide` of them hold rows * width values, the others
 * rows * u, with rows and u from the shape of objs[count - 1] (rows, u) and width =
 * gates * u. Returns 0, or -1 with an exception set. */
static int acquire_step(PyObject **objs, Array *arrays, int count, int wide,
                        const char *const *names, unsigned writable, int gates, int *kind,
                        Py_ssize_t *rows, Py_ssize_t *u)
{
    for (int i = 0; i < count; i++)
        if (acquire(objs[i], &arrays[i], (writable >> i) & 1u, names[i], kind) < 0) return -1;
    const Py_buffer *state = &arrays[count - 1].view;
    if (state->ndim != 2 || state->shape[0] == 0 || state->shape[1] == 0) {
        PyErr_Format(PyExc_ValueError, "kernel argument `%s` must be a non-empty "
                     "(rows, units) array", names[count - 1]);
        return -1;
    }
    *rows = state->shape[0];
    *u = state->shape[1];
    for (int i = 0; i < count; i++) {
        Py_ssize_t expected = *rows * *u * (i < wide ? gates : 1) * *kind;
        if (arrays[i].view.len != expected) {
            PyErr_Format(PyExc_ValueError,
                         "kernel argument `%s` must hold %zd values (%zd rows of %zd), "
                         "not %zd", names[i], expected / *kind, *rows,
                         *u * (i < wide ? gates : 1), arrays[i].view.len / *kind);
            return -1;
        }
    }
    return 0;
}

/* The arguments of a step kernel: exactly `count` positional arrays. */
static int unpack(PyObject *args, const char *name, PyObject **objs, int count)
{
    if (PyTuple_GET_SIZE(args) != count) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly %d arguments (%zd given)", name,
                     count, PyTuple_GET_SIZE(args));
        return -1;
    }
    for (int i = 0; i < count; i++) objs[i] = PyTuple_GET_ITEM(args, i);
    return 0;
}

typedef void (*StepKernel)(void **p, Py_ssize_t rows, Py_ssize_t u);

/* Parse, check and run a step kernel (float32 or float64) without the GIL. */
static PyObject *call_step(PyObject *args, const char *name, const char *const *names,
                           int count, int wide, int gates, unsigned writable, StepKernel f32,
                           StepKernel f64)
{
    PyObject *objs[8];
    Array arrays[8];
    memset(arrays, 0, sizeof arrays);
    int kind = 0;
    Py_ssize_t rows, u;
    if (unpack(args, name, objs, count) < 0) return NULL;
    if (acquire_step(objs, arrays, count, wide, names, writable, gates, &kind, &rows, &u) < 0) {
        release(arrays, count);
        return NULL;
    }
    void *p[8];
    for (int i = 0; i < count; i++) p[i] = arrays[i].view.buf;
    StepKernel f = kind == 4 ? f32 : f64;
    Py_BEGIN_ALLOW_THREADS
    f(p, rows, u);
    Py_END_ALLOW_THREADS
    release(arrays, count);
    Py_RETURN_NONE;
}

#define STEP_ADAPTERS(T)                                                               \
    static void lstm_step_p_##T(void **p, Py_ssize_t rows, Py_ssize_t u)               \
    {                                                                                  \
        lstm_step_##T(p[0], p[1], p[2], p[3], p[4], p[5], rows, u);                    \
    }                                                                                  \
    static void lstm_step_backward_p_##T(void **p, Py_ssize_t rows, Py_ssize_t u)      \
    {                                                                                  \
        lstm_step_backward_##T(p[0], p[2], p[3], p[4], p[5], p[1], rows, u);           \
    }                                                                                  \
    static void gru_step_p_##T(void **p, Py_ssize_t rows, Py_ssize_t u)                \
    {                                                                                  \
        gru_step_##T(p[0], p[1], p[2], p[3], p[4], rows, u);                           \
    }                                                                                  \
    static void gru_step_backward_p_##T(void **p, Py_ssize_t rows, Py_ssize_t u)       \
    {                                                                                  \
        gru_step_backward_##T(p[0], p[1], p[4], p[5], p[2], p[3], rows, u);            \
    }
STEP_ADAPTERS(float)
STEP_ADAPTERS(double)

/* lstm_step(gates, xw, c_prev, c, tanh_c, h) */
static PyObject *lstm_step(PyObject *self, PyObject *args)
{
    static const char *const names[] = {"gates", "xw", "c_prev", "c", "tanh_c", "h"};
    return call_step(args, "lstm_step", names, 6, 2, 4, 1u | 8u | 16u | 32u,
                     lstm_step_p_float, lstm_step_p_double);
}

/* lstm_step_backward(gates, dgates, c_prev, tanh_c, dh, dc) */
static PyObject *lstm_step_backward(PyObject *self, PyObject *args)
{
    static const char *const names[] = {"gates", "dgates", "c_prev", "tanh_c", "dh", "dc"};
    return call_step(args, "lstm_step_backward", names, 6, 2, 4, 2u | 32u,
                     lstm_step_backward_p_float, lstm_step_backward_p_double);
}

/* gru_step(gates, inner, xw, h_prev, h) */
static PyObject *gru_step(PyObject *self, PyObject *args)
{
    static const char *const names[] = {"gates", "inner", "xw", "h_prev", "h"};
    return call_step(args, "gru_step", names, 5, 3, 3, 1u | 16u, gru_step_p_float,
                     gru_step_p_double);
}

/* gru_step_backward(gates, inner, dxw, dinner, h_prev, dh) */
static PyObject *gru_step_backward(PyObject *self, PyObject *args)
{
    static const char *const names[] = {"gates", "inner", "dxw", "dinner", "h_prev", "dh"};
    return call_step(args, "gru_step_backward", names, 6, 4, 3, 4u | 8u | 32u,
                     gru_step_backward_p_float, gru_step_backward_p_double);
}

/* ---------------------------------------------------------------- softmax ----- */

/* Row sums and maxima run over `lanes` interleaved partial results (one to a few vector
 * registers, so consecutive steps need not wait on one another), then combined pairwise:
 * the loops vectorise without reassociating floating-point sums. Long rows (the softmax
 * over 128 keys) run fastest with 32 lanes, short ones (layer normalization over 64
 * features) with 8: the pairwise combination costs more than it saves there. */
#define LANES 8
#define WIDE_LANES 32

/* out = the sum of `term` over i in [0, cols), term an expression of i */
#define ROW_SUM(T, lanes, cols, term, out)                                             \
    do {                                                                               \
        T acc_[(lanes)];                                                               \
        Py_ssize_t i_ = 0, whole_ = (cols) - (cols) % (lanes);                         \
        for (int lane_ = 0; lane_ < (lanes); lane_++) acc_[lane_] = 0;                 \
        for (; i_ < whole_; i_ += (lanes))                                             \
            for (int lane_ = 0; lane_ < (lanes); lane_++) {                            \
                Py_ssize_t i = i_ + lane_;                                             \
                acc_[lane_] += (term);                                                 \
            }                                                                          \
        for (int half_ = (lanes) / 2; half_ > 0; half_ /= 2)                           \
            for (int lane_ = 0; lane_ < half_; lane_++)                                \
                acc_[lane_] += acc_[lane_ + half_];                                    \
        out = acc_[0];                                                                 \
        for (Py_ssize_t i = i_; i < (cols); i++) out += (term);                        \
    } while (0)

/* out = the maximum of z[0..cols) (NaN entries skipped; -inf for a row of them) */
#define ROW_MAX(T, lanes, z, cols, out)                                                \
    do {                                                                               \
        T top_[(lanes)];                                                               \
        Py_ssize_t i_ = 0, whole_ = (cols) - (cols) % (lanes);                         \
        for (int lane_ = 0; lane_ < (lanes); lane_++) top_[lane_] = -INFINITY;         \
        for (; i_ < whole_; i_ += (lanes))                                             \
            for (int lane_ = 0; lane_ < (lanes); lane_++) {                            \
                T v_ = (z)[i_ + lane_];                                                \
                top_[lane_] = v_ > top_[lane_] ? v_ : top_[lane_];                     \
            }                                                                          \
        for (int half_ = (lanes) / 2; half_ > 0; half_ /= 2)                           \
            for (int lane_ = 0; lane_ < half_; lane_++) {                              \
                T v_ = top_[lane_ + half_];                                            \
                top_[lane_] = v_ > top_[lane_] ? v_ : top_[lane_];                     \
            }                                                                          \
        out = top_[0];                                                                 \
        for (; i_ < (cols); i_++) out = (z)[i_] > out ? (z)[i_] : out;                 \
    } while (0)

/* Softmax of each row in place: exp(z - max) * (1 / sum), the exp and the sum in one
 * loop. A row whose maximum is -inf (every entry masked) comes out all zeros, as the
 * masked softmax wants; a NaN makes its row NaN. */
#define DEFINE_SOFTMAX_ROWS(T)                                                         \
    WIDEST static void softmax_rows_##T(T *restrict z, Py_ssize_t rows, Py_ssize_t cols) \
    {                                                                                  \
        for (Py_ssize_t r = 0; r < rows; r++, z += cols) {                             \
            T m, total;                                                                \
            ROW_MAX(T, WIDE_LANES, z, cols, m);                                        \
            if (m == -INFINITY) {                                                      \
                for (Py_ssize_t c = 0; c < cols; c++) z[c] = 0;                        \
                continue;                                                              \
            }                                                                          \
            ROW_SUM(T, WIDE_LANES, cols, z[i] = exp_fast_##T(z[i] - m), total);        \
            T scale = (T)1 / total;                                                    \
            for (Py_ssize_t c = 0; c < cols; c++) z[c] *= scale;                       \
        }                                                                              \
    }
DEFINE_SOFTMAX_ROWS(float)
DEFINE_SOFTMAX_ROWS(double)

/* softmax_rows(z): the softmax of every row (last axis) of z, in place. */
static PyObject *softmax_rows(PyObject *self, PyObject *args)
{
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "O:softmax_rows", &obj)) return NULL;
    Array arr;
    memset(&arr, 0, sizeof arr);
    int kind = 0;
    if (acquire(obj, &arr, 1, "z", &kind) < 0) goto fail;
    Py_ssize_t cols = arr.view.ndim ? arr.view.shape[arr.view.ndim - 1] : 0;
    if (cols == 0) {
        PyErr_SetString(PyExc_ValueError, "kernel argument `z` must have a non-empty last axis");
        goto fail;
    }
    Py_ssize_t rows = arr.view.len / kind / cols;
    Py_BEGIN_ALLOW_THREADS
    if (kind == 4) softmax_rows_float(arr.view.buf, rows, cols);
    else softmax_rows_double(arr.view.buf, rows, cols);
    Py_END_ALLOW_THREADS
    release(&arr, 1);
    Py_RETURN_NONE;
fail:
    release(&arr, 1);
    return NULL;
}

/* dL/dz of a softmax from p and dp = dL/dp (overwritten): p * (dp - sum(dp * p)) per row. */
#define DEFINE_SOFTMAX_ROWS_BACKWARD(T)                                                \
    WIDEST static void softmax_rows_backward_##T(const T *restrict p, T *restrict dp,  \
                                                 Py_ssize_t rows, Py_ssize_t cols)     \
    {                                                                                  \
        for (Py_ssize_t r = 0; r < rows; r++, p += cols, dp += cols) {                 \
            T dot;                                                                     \
            ROW_SUM(T, WIDE_LANES, cols, dp[i] * p[i], dot);                           \
            for (Py_ssize_t c = 0; c < cols; c++) dp[c] = (dp[c] - dot) * p[c];        \
        }                                                                              \
    }
DEFINE_SOFTMAX_ROWS_BACKWARD(float)
DEFINE_SOFTMAX_ROWS_BACKWARD(double)

/* softmax_rows_backward(p, dp): dp = p * (dp - sum(dp * p)) over the last axis, in place. */
static PyObject *softmax_rows_backward(PyObject *self, PyObject *args)
{
    PyObject *objs[2];
    if (!PyArg_ParseTuple(args, "OO:softmax_rows_backward", &objs[0], &objs[1])) return NULL;
    static const char *const names[] = {"p", "dp"};
    Array arrays[2];
    memset(arrays, 0, sizeof arrays);
    int kind = 0;
    if (acquire_same(objs, arrays, 2, names, 2u, &kind) < 0) goto fail;
    const Py_buffer *p = &arrays[0].view;
    Py_ssize_t cols = p->ndim ? p->shape[p->ndim - 1] : 0;
    if (cols == 0) {
        PyErr_SetString(PyExc_ValueError, "kernel argument `p` must have a non-empty last axis");
        goto fail;
    }
    Py_ssize_t rows = p->len / kind / cols;
    Py_BEGIN_ALLOW_THREADS
    if (kind == 4) softmax_rows_backward_float(p->buf, arrays[1].view.buf, rows, cols);
    else softmax_rows_backward_double(p->buf, arrays[1].view.buf, rows, cols);
    Py_END_ALLOW_THREADS
    release(arrays, 2);
    Py_RETURN_NONE;
fail:
    release(arrays, 2);
    return NULL;
}

/* ------------------------------------------------------ layer normalization ---- */

/* Each row of x standardised and scaled: y = (x - mean) * inv * gamma + beta with
 * inv = 1 / sqrt(var + epsilon), the biased variance taken around the mean (two passes,
 * as NumPy's). Each row's mean and inv are kept for the backward pass. */
#define DEFINE_LAYER_NORM_ROWS(T, SQRT)                                                \
    WIDEST static void layer_norm_rows_##T(const T *restrict x, const T *restrict gamma, \
                                           const T *restrict beta, T epsilon,          \
                                           T *restrict y, T *restrict mean,            \
                                           T *restrict inv, Py_ssize_t rows,           \
                                           Py_ssize_t cols)                            \
    {                                                                                  \
        for (Py_ssize_t r = 0; r < rows; r++, x += cols, y += cols) {                  \
            T total, squares;                                                          \
            ROW_SUM(T, LANES, cols, x[i], total);                                      \
            T m = total / (T)cols;                                                     \
            ROW_SUM(T, LANES, cols, (x[i] - m) * (x[i] - m), squares);                 \
            T k = (T)1 / SQRT(squares / (T)cols + epsilon);                            \
            for (Py_ssize_t c = 0; c < cols; c++)                                      \
                y[c] = (x[c] - m) * k * gamma[c] + beta[c];                            \
            mean[r] = m;                                                               \
            inv[r] = k;                                                                \
        }                                                                              \
    }
DEFINE_LAYER_NORM_ROWS(float, sqrtf)
DEFINE_LAYER_NORM_ROWS(double, sqrt)

/* The gradients of layer_norm_rows from dy: dgamma = sum over rows of dy * x_hat, dbeta =
 * sum of dy, and (when dx is given) dx = inv * (g - (sum(g) + x_hat * sum(g * x_hat)) / n)
 * per row, g = dy * gamma, x_hat = (x - mean) * inv. */
#define DEFINE_LAYER_NORM_ROWS_BACKWARD(T)                                             \
    WIDEST static void layer_norm_rows_backward_##T(                                   \
        const T *restrict dy, const T *restrict x, const T *restrict mean,             \
        const T *restrict inv, const T *restrict gamma, T *restrict dx,                \
        T *restrict dgamma, T *restrict dbeta, Py_ssize_t rows, Py_ssize_t cols)       \
    {                                                                                  \
        const T w = (T)1 / (T)cols;                                                    \
        for (Py_ssize_t c = 0; c < cols; c++) dgamma[c] = dbeta[c] = 0;                \
        for (Py_ssize_t r = 0; r < rows; r++, dy += cols, x += cols) {                 \
            const T m = mean[r], k = inv[r];                                           \
            for (Py_ssize_t c = 0; c < cols; c++) {                                    \
                dgamma[c] += dy[c] * ((x[c] - m) * k);                                 \
                dbeta[c] += dy[c];                                                     \
            }                                                                          \
            if (!dx) continue;                                                         \
            T sum_g, sum_g_x_hat;                                                      \
            ROW_SUM(T, LANES, cols, dy[i] * gamma[i], sum_g);                          \
            ROW_SUM(T, LANES, cols, dy[i] * gamma[i] * ((x[i] - m) * k), sum_g_x_hat); \
            for (Py_ssize_t c = 0; c < cols; c++) {                                    \
                T x_hat = (x[c] - m) * k;                                              \
                dx[c] = k * (dy[c] * gamma[c] - w * (sum_g + x_hat * sum_g_x_hat));    \
            }                                                                          \
            dx += cols;                                                                \
        }                                                                              \
    }
DEFINE_LAYER_NORM_ROWS_BACKWARD(float)
DEFINE_LAYER_NORM_ROWS_BACKWARD(double)

/* Acquire objs[0..count) for a kernel over the rows of objs[0] (..., cols): entries of
 * `per_row` hold one value per row, of `per_col` one per column, the rest as many as
 * objs[0]; None is allowed where `optional` has its bit set (its buffer stays NULL).
 * Returns the row count (cols in *cols), or -1 with an exception set. */
static Py_ssize_t acquire_rows(PyObject **objs, Array *arrays, int count,
                               const char *const *names, unsigned writable, unsigned per_row,
                               unsigned per_col, unsigned optional, int *kind,
                               Py_ssize_t *cols)
{
    for (int i = 0; i < count; i++) {
        if (((optional >> i) & 1u) && objs[i] == Py_None) continue;
        if (acquire(objs[i], &arrays[i], (writable >> i) & 1u, names[i], kind) < 0) return -1;
    }
    const Py_buffer *z = &arrays[0].view;
    *cols = z->ndim ? z->shape[z->ndim - 1] : 0;
    if (*cols == 0) {
        PyErr_Format(PyExc_ValueError, "kernel argument `%s` must have a non-empty last axis",
                     names[0]);
        return -1;
    }
    Py_ssize_t size = z->len / *kind, rows = size / *cols;
    for (int i = 1; i < count; i++) {
        if (!arrays[i].held) continue;
        int row = (per_row >> i) & 1u, col = (per_col >> i) & 1u;
        Py_ssize_t values = arrays[i].view.len / *kind;
        if (values != (row ? rows : col ? *cols : size)) {
            if (row || col)
                PyErr_Format(PyExc_ValueError,
                             "kernel argument `%s` (%zd values) must hold one value per %s of "
                             "`%s` (%zd rows of %zd)", names[i], values, row ? "row" : "column",
                             names[0], rows, *cols);
            else
                PyErr_Format(PyExc_ValueError,
                             "kernel arguments `%s` and `%s` must have the same size "
                             "(%zd and %zd values)", names[0], names[i], size, values);
            return -1;
        }
    }
    return rows;
}

static void *buffer_of(const Array *arr) { return arr->held ? arr->view.buf : NULL; }

/* layer_norm_rows(x, gamma, beta, epsilon, y, mean, inv) */
static PyObject *layer_norm_rows(PyObject *self, PyObject *args)
{
    PyObject *objs[6];
    double epsilon;
    if (!PyArg_ParseTuple(args, "OOOdOOO:layer_norm_rows", &objs[0], &objs[1], &objs[2],
                          &epsilon, &objs[3], &objs[4], &objs[5]))
        return NULL;
    static const char *const names[] = {"x", "gamma", "beta", "y", "mean", "inv"};
    Array arrays[6];
    memset(arrays, 0, sizeof arrays);
    int kind = 0;
    Py_ssize_t cols;
    Py_ssize_t rows = acquire_rows(objs, arrays, 6, names, 0x38u, 0x30u, 0x06u, 0u, &kind, &cols);
    if (rows < 0) goto fail;
    void *b[6];
    for (int i = 0; i < 6; i++) b[i] = arrays[i].view.buf;
    Py_BEGIN_ALLOW_THREADS
    if (kind == 4)
        layer_norm_rows_float(b[0], b[1], b[2], (float)epsilon, b[3], b[4], b[5], rows, cols);
    else
        layer_norm_rows_double(b[0], b[1], b[2], epsilon, b[3], b[4], b[5], rows, cols);
    Py_END_ALLOW_THREADS
    release(arrays, 6);
    Py_RETURN_NONE;
fail:
    release(arrays, 6);
    return NULL;
}

/* layer_norm_rows_backward(dy, x, mean, inv, gamma, dx_or_None, dgamma, dbeta) */
static PyObject *layer_norm_rows_backward(PyObject *self, PyObject *args)
{
    PyObject *objs[8];
    if (!PyArg_ParseTuple(args, "OOOOOOOO:layer_norm_rows_backward", &objs[0], &objs[1],
                          &objs[2], &objs[3], &objs[4], &objs[5], &objs[6], &objs[7]))
        return NULL;
    static const char *const names[] = {"dy", "x", "mean", "inv", "gamma", "dx", "dgamma",
                                        "dbeta"};
    Array arrays[8];
    memset(arrays, 0, sizeof arrays);
    int kind = 0;
    Py_ssize_t cols;
    Py_ssize_t rows =
        acquire_rows(objs, arrays, 8, names, 0xE0u, 0x0Cu, 0xD0u, 0x20u, &kind, &cols);
    if (rows < 0) goto fail;
    void *b[8];
    for (int i = 0; i < 8; i++) b[i] = buffer_of(&arrays[i]);
    Py_BEGIN_ALLOW_THREADS
    if (kind == 4)
        layer_norm_rows_backward_float(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], rows,
                                       cols);
    else
        layer_norm_rows_backward_double(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], rows,
                                        cols);
    Py_END_ALLOW_THREADS
    release(arrays, 8);
    Py_RETURN_NONE;
fail:
    release(arrays, 8);
    return NULL;
}

/* ------------------------------------- windows of channels-last grids (conv, pool) ---- */

/* Grids arrive as 5-D (batch, d, h, w, channels) arrays; layers of rank 1 and 2 add unit
 * axes first. `grid` is the shape, `step` the element strides of such a grid. */
static void grid_steps(const Py_ssize_t *grid, Py_ssize_t *step)
{
    step[3] = grid[4];
    step[2] = grid[3] * step[3];
    step[1] = grid[2] * step[2];
    step[0] = grid[1] * step[1];
}

/* Acquire `obj` as a C-contiguous uint8 array (the pool's offset of each maximum). */
static int acquire_offsets(PyObject *obj, Array *arr, int writable, const char *name)
{
    int flags = PyBUF_FORMAT | PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &arr->view, flags) < 0) {
        PyErr_Format(PyExc_TypeError, "kernel argument `%s` must be a %sC-contiguous uint8 array",
                     name, writable ? "writable " : "");
        return -1;
    }
    arr->held = 1;
    const char *f = arr->view.format ? arr->view.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    if (arr->view.itemsize != 1 || strcmp(f, "B") != 0) {
        PyErr_Format(PyExc_TypeError, "kernel argument `%s` must be a C-contiguous uint8 array",
                     name);
        return -1;
    }
    return 0;
}

static int check_ndim(const Array *arr, int ndim, const char *name)
{
    if (arr->view.ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "kernel argument `%s` must have %d axes (received %d)",
                     name, ndim, arr->view.ndim);
        return -1;
    }
    return 0;
}

/* pool (kd, kh, kw) with strides equal to it: `out` windows (batch, od, oh, ow, c) must
 * fit in `grid` (the remainder of each axis is left out) and share its batch and
 * channels; at most 256 offsets per window (they are stored as uint8). */
static int check_pool(const Py_ssize_t *grid, const Py_ssize_t *out, const Py_ssize_t *pool)
{
    if (pool[0] < 1 || pool[1] < 1 || pool[2] < 1 || pool[0] * pool[1] * pool[2] > 256) {
        PyErr_Format(PyExc_ValueError, "kernel pool sizes must be positive with at most 256 "
                     "offsets (received %zd x %zd x %zd)", pool[0], pool[1], pool[2]);
        return -1;
    }
    int fits = out[0] == grid[0] && out[4] == grid[4];
    for (int i = 0; i < 3; i++) fits = fits && out[i + 1] * pool[i] <= grid[i + 1];
    if (!fits) {
        PyErr_Format(PyExc_ValueError, "kernel pool windows (%zd, %zd, %zd, %zd, %zd) of size "
                     "%zd x %zd x %zd do not fit the grid (%zd, %zd, %zd, %zd, %zd)",
                     out[0], out[1], out[2], out[3], out[4], pool[0], pool[1], pool[2],
                     grid[0], grid[1], grid[2], grid[3], grid[4]);
        return -1;
    }
    return 0;
}

/* Both pooling loops take each channel through all the taps of its window with the
 * taps' grid offsets in a table; a 2x2 pool (4 taps) gets its own copy with the count
 * fixed, which the compiler unrolls and vectorises over channels (3x faster than the
 * same loop with the count unknown). */
static int pool_taps(const Py_ssize_t *pool, const Py_ssize_t *step, Py_ssize_t *tap)
{
    int k = 0;
    for (Py_ssize_t p = 0; p < pool[0]; p++)
        for (Py_ssize_t q = 0; q < pool[1]; q++)
            for (Py_ssize_t r = 0; r < pool[2]; r++) tap[k++] = p * step[1] + q * step[2] + r * step[3];
    return k;
}

/* One pooling call: `grid` the input (or its gradient), `pooled` the windows' maxima (or
 * their gradient), `offsets` each maximum's place in its window. */
typedef struct {
    char *grid_buf, *pooled_buf;
    unsigned char *offsets;
    Py_ssize_t grid[5], out[5], pool[3];
    int kind;
} Pooling;

/* The grid offset of the first window of row `line` = (b, i, j) of the windows. */
static inline Py_ssize_t pool_row(const Pooling *p, const Py_ssize_t *step, Py_ssize_t line)
{
    const Py_ssize_t *out = p->out, *pool = p->pool;
    const Py_ssize_t b = line / (out[1] * out[2]), i = line / out[2] % out[1], j = line % out[2];
    return b * step[0] + i * pool[0] * step[1] + j * pool[1] * step[2];
}

/* The maximum of each window and the offset (row-major within the window) of its first
 * maximum, in the NumPy path's arithmetic: an offset replaces the best so far only when
 * strictly greater; a NaN becomes the maximum (np.maximum) but never an offset. */
#define DEFINE_MAX_POOL(T)                                                             \
    static inline __attribute__((always_inline)) void max_pool_window_##T(             \
        const T *restrict corner, const Py_ssize_t *restrict tap, int taps,            \
        T *restrict y, unsigned char *restrict offsets, Py_ssize_t channels)           \
    {                                                                                  \
        for (Py_ssize_t c = 0; c < channels; c++) {                                    \
            T best = corner[c];                                                        \
            int at = 0;                                                                \
            for (int k = 1; k < taps; k++) {                                           \
                T value = corner[tap[k] + c];                                          \
                at = value > best ? k : at;                                            \
                best = ((value > best) | (value != value)) ? value : best;             \
            }                                                                          \
            y[c] = best;                                                               \
            offsets[c] = (unsigned char)at;                                            \
        }                                                                              \
    }                                                                                  \
    WIDEST static void max_pool_##T(const Pooling *p, Py_ssize_t start, Py_ssize_t stop) \
    {                                                                                  \
        const Py_ssize_t *out = p->out, *pool = p->pool;                               \
        Py_ssize_t step[4], tap[256], channels = p->grid[4];                           \
        grid_steps(p->grid, step);                                                     \
        const int taps = pool_taps(pool, step, tap);                                   \
        const T *restrict x = (const T *)p->grid_buf;                                  \
        T *restrict y = (T *)p->pooled_buf + start * out[3] * channels;                \
        unsigned char *restrict offsets = p->offsets + start * out[3] * channels;      \
        for (Py_ssize_t line = start; line < stop; line++) {                           \
            const T *row = x + pool_row(p, step, line);                                \
            for (Py_ssize_t l = 0; l < out[3]; l++, y += channels, offsets += channels) { \
                const T *corner = row + l * pool[2] * step[3];                         \
                if (taps == 4)                                                         \
                    max_pool_window_##T(corner, tap, 4, y, offsets, channels);         \
                else                                                                   \
                    max_pool_window_##T(corner, tap, taps, y, offsets, channels);      \
            }                                                                          \
        }                                                                              \
    }
DEFINE_MAX_POOL(float)
DEFINE_MAX_POOL(double)

/* Each window's gradient dy written at its stored offset and dy * 0 at the others (the
 * NumPy path's product with the mask); grid positions outside every window untouched. */
#define DEFINE_MAX_POOL_GRAD(T)                                                        \
    static inline __attribute__((always_inline)) void max_pool_grad_window_##T(        \
        const T *restrict dy, const unsigned char *restrict offsets,                   \
        T *restrict corner, const Py_ssize_t *restrict tap, int taps, Py_ssize_t channels) \
    {                                                                                  \
        for (Py_ssize_t c = 0; c < channels; c++) {                                    \
            const int at = offsets[c];                                                 \
            for (int k = 0; k < taps; k++) {                                           \
                T mask = at == k ? (T)1 : (T)0;                                        \
                corner[tap[k] + c] = dy[c] * mask;                                     \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
    WIDEST static void max_pool_grad_##T(const Pooling *p, Py_ssize_t start,           \
                                         Py_ssize_t stop)                              \
    {                                                                                  \
        const Py_ssize_t *out = p->out, *pool = p->pool;                               \
        Py_ssize_t step[4], tap[256], channels = p->grid[4];                           \
        grid_steps(p->grid, step);                                                     \
        const int taps = pool_taps(pool, step, tap);                                   \
        T *restrict dx = (T *)p->grid_buf;                                             \
        const T *restrict dy = (const T *)p->pooled_buf + start * out[3] * channels;   \
        const unsigned char *restrict offsets = p->offsets + start * out[3] * channels; \
        for (Py_ssize_t line = start; line < stop; line++) {                           \
            T *row = dx + pool_row(p, step, line);                                     \
            for (Py_ssize_t l = 0; l < out[3]; l++, dy += channels, offsets += channels) { \
                T *corner = row + l * pool[2] * step[3];                               \
                if (taps == 4)                                                         \
                    max_pool_grad_window_##T(dy, offsets, corner, tap, 4, channels);   \
                else                                                                   \
                    max_pool_grad_window_##T(dy, offsets, corner, tap, taps, channels); \
            }                                                                          \
        }                                                                              \
    }
DEFINE_MAX_POOL_GRAD(float)
DEFINE_MAX_POOL_GRAD(double)

static void max_pool_range(void *work, Py_ssize_t start, Py_ssize_t stop)
{
    const Pooling *p = work;
    if (p->kind == 4) max_pool_float(p, start, stop);
    else max_pool_double(p, start, stop);
}

static void max_pool_grad_range(void *work, Py_ssize_t start, Py_ssize_t stop)
{
    const Pooling *p = work;
    if (p->kind == 4) max_pool_grad_float(p, start, stop);
    else max_pool_grad_double(p, start, stop);
}

/* Both pooling loops over the rows (batch, od, oh) of windows, on several threads when
 * large: each window writes only its own outputs (max_pool) or inputs (its gradient). */
static void run_pooling(Pooling *p, const Py_ssize_t *grid, const Py_ssize_t *out,
                        RangeKernel f)
{
    memcpy(p->grid, grid, sizeof p->grid);
    memcpy(p->out, out, sizeof p->out);
    const Py_ssize_t taps = p->pool[0] * p->pool[1] * p->pool[2];
    parallel_for(out[0] * out[1] * out[2], out[3] * out[4] * taps, f, p);
}

/* max_pool(x, y, offsets, kd, kh, kw): x (batch, d, h, w, c); y and offsets (uint8)
 * (batch, d // kd, h // kh, w // kw, c) at most, written. */
static PyObject *max_pool(PyObject *self, PyObject *args)
{
    PyObject *objs[3];
    Pooling p;
    Py_ssize_t *pool = p.pool;
    if (!PyArg_ParseTuple(args, "OOOnnn:max_pool", &objs[0], &objs[1], &objs[2], &pool[0],
                          &pool[1], &pool[2]))
        return NULL;
    Array arrays[3];
    memset(arrays, 0, sizeof arrays);
    int kind = 0;
    if (acquire(objs[0], &arrays[0], 0, "x", &kind) < 0) goto fail;
    if (acquire(objs[1], &arrays[1], 1, "y", &kind) < 0) goto fail;
    if (acquire_offsets(objs[2], &arrays[2], 1, "offsets") < 0) goto fail;
    if (check_ndim(&arrays[0], 5, "x") < 0 || check_ndim(&arrays[1], 5, "y") < 0 ||
        check_ndim(&arrays[2], 5, "offsets") < 0)
        goto fail;
    const Py_ssize_t *grid = arrays[0].view.shape, *out = arrays[1].view.shape;
    if (memcmp(out, arrays[2].view.shape, 5 * sizeof(Py_ssize_t)) != 0) {
        PyErr_SetString(PyExc_ValueError, "kernel arguments `y` and `offsets` must have the "
                        "same shape");
        goto fail;
    }
    if (check_pool(grid, out, pool) < 0) goto fail;
    p.grid_buf = arrays[0].view.buf;
    p.pooled_buf = arrays[1].view.buf;
    p.offsets = arrays[2].view.buf;
    p.kind = kind;
    Py_BEGIN_ALLOW_THREADS
    run_pooling(&p, grid, out, max_pool_range);
    Py_END_ALLOW_THREADS
    release(arrays, 3);
    Py_RETURN_NONE;
fail:
    release(arrays, 3);
    return NULL;
}

/* max_pool_grad(dy, offsets, dx, kd, kh, kw): the adjoint of max_pool into dx
 * (batch, d, h, w, c); positions outside every window are left as they are. */
static PyObject *max_pool_grad(PyObject *self, PyObject *args)
{
    PyObject *objs[3];
    Pooling p;
    Py_ssize_t *pool = p.pool;
    if (!PyArg_ParseTuple(args, "OOOnnn:max_pool_grad", &objs[0], &objs[1], &objs[2], &pool[0],
                          &pool[1], &pool[2]))
        return NULL;
    Array arrays[3];
    memset(arrays, 0, sizeof arrays);
    int kind = 0;
    if (acquire(objs[0], &arrays[0], 0, "dy", &kind) < 0) goto fail;
    if (acquire_offsets(objs[1], &arrays[1], 0, "offsets") < 0) goto fail;
    if (acquire(objs[2], &arrays[2], 1, "dx", &kind) < 0) goto fail;
    if (check_ndim(&arrays[0], 5, "dy") < 0 || check_ndim(&arrays[1], 5, "offsets") < 0 ||
        check_ndim(&arrays[2], 5, "dx") < 0)
        goto fail;
    const Py_ssize_t *grid = arrays[2].view.shape, *out = arrays[0].view.shape;
    if (memcmp(out, arrays[1].view.shape, 5 * sizeof(Py_ssize_t)) != 0) {
        PyErr_SetString(PyExc_ValueError, "kernel arguments `dy` and `offsets` must have the "
                        "same shape");
        goto fail;
    }
    if (check_pool(grid, out, pool) < 0) goto fail;
    p.grid_buf = arrays[2].view.buf;
    p.pooled_buf = arrays[0].view.buf;
    p.offsets = arrays[1].view.buf;
    p.kind = kind;
    Py_BEGIN_ALLOW_THREADS
    run_pooling(&p, grid, out, max_pool_grad_range);
    Py_END_ALLOW_THREADS
    release(arrays, 3);
    Py_RETURN_NONE;
fail:
    release(arrays, 3);
    return NULL;
}

/* Patches of a convolution: `cols` (batch, od, oh, ow, td, th, tw, c) holds, for window
 * o and tap t, the value for grid[o * stride + (first + t) * dilation] (per axis); the
 * taps may be a block of the kernel's (one slab of the input gradient starts at `first`). */
typedef struct {
    Py_ssize_t grid[5], cols[8], first[3], stride[3], dilation[3];
    char *grid_buf, *cols_buf;
    Py_ssize_t *tap; /* each tap's grid offset from its window's corner (im2col) */
    int kind;
} Patches;

static int check_patches(const Array *grid, const Array *cols, Patches *g)
{
    if (check_ndim(grid, 5, "grid") < 0 || check_ndim(cols, 8, "cols") < 0) return -1;
    memcpy(g->grid, grid->view.shape, sizeof g->grid);
    memcpy(g->cols, cols->view.shape, sizeof g->cols);
    int ok = g->cols[0] == g->grid[0] && g->cols[7] == g->grid[4];
    for (int i = 0; i < 3; i++) {
        ok = ok && g->first[i] >= 0 && g->stride[i] >= 1 && g->dilation[i] >= 1;
        if (g->cols[1 + i] > 0 && g->cols[4 + i] > 0)
            ok = ok && (g->cols[1 + i] - 1) * g->stride[i]
                           + (g->first[i] + g->cols[4 + i] - 1) * g->dilation[i] < g->grid[1 + i];
    }
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "kernel patches (%zd, %zd, %zd, %zd, %zd, %zd, %zd, %zd) "
                     "from tap (%zd, %zd, %zd), strides (%zd, %zd, %zd), dilations (%zd, %zd, %zd) "
                     "do not fit the grid (%zd, %zd, %zd, %zd, %zd)",
                     g->cols[0], g->cols[1], g->cols[2], g->cols[3], g->cols[4], g->cols[5],
                     g->cols[6], g->cols[7], g->first[0], g->first[1], g->first[2], g->stride[0], g->stride[1], g->stride[2],
                     g->dilation[0], g->dilation[1], g->dilation[2], g->grid[0], g->grid[1],
                     g->grid[2], g->grid[3], g->grid[4]);
        return -1;
    }
    return 0;
}

/* The grid offset of window (i, j, l)'s tap (a, e, f), in elements. */
#define PATCH_AT(g, step, b, i, j, l, a, e, f)                                         \
    ((b) * (step)[0]                                                                   \
     + ((i) * (g)->stride[0] + ((g)->first[0] + (a)) * (g)->dilation[0]) * (step)[1]   \
     + ((j) * (g)->stride[1] + ((g)->first[1] + (e)) * (g)->dilation[1]) * (step)[2]   \
     + ((l) * (g)->stride[2] + ((g)->first[2] + (f)) * (g)->dilation[2]) * (step)[3])

/* cols = every window's patch, window after window, read through a table of the taps'
 * offsets from the window's corner (rows (batch, od, oh) of windows on several threads
 * when large: each writes only its own patches). A 3x3 kernel on one channel (a first
 * layer on grey images) gets its own copy of the loop with both counts fixed, which the
 * compiler unrolls. */
#define DEFINE_IM2COL(T)                                                               \
    static inline __attribute__((always_inline)) void im2col_window_##T(               \
        const T *restrict corner, const Py_ssize_t *restrict tap, Py_ssize_t taps,     \
        T *restrict patch, Py_ssize_t channels)                                        \
    {                                                                                  \
        for (Py_ssize_t k = 0; k < taps; k++, patch += channels)                       \
            for (Py_ssize_t c = 0; c < channels; c++) patch[c] = corner[tap[k] + c];   \
    }                                                                                  \
    WIDEST static void im2col_##T(const T *restrict grid, T *restrict cols,            \
                                  const Patches *g, Py_ssize_t start, Py_ssize_t stop) \
    {                                                                                  \
        Py_ssize_t step[4], channels = g->grid[4];                                     \
        grid_steps(g->grid, step);                                                     \
        const Py_ssize_t *n = g->cols, *tap = g->tap;                                  \
        const Py_ssize_t taps = n[4] * n[5] * n[6], patch = taps * channels;           \
        T *out = cols + start * n[3] * patch;                                          \
        for (Py_ssize_t line = start; line < stop; line++) {                           \
            const Py_ssize_t b = line / (n[1] * n[2]), i = line / n[2] % n[1];         \
            const Py_ssize_t j = line % n[2];                                          \
            const T *corner = grid + PATCH_AT(g, step, b, i, j, 0, 0, 0, 0) - tap[0];  \
            for (Py_ssize_t l = 0; l < n[3]; l++, out += patch) {                      \
                const T *at = corner + l * g->stride[2] * step[3];                     \
                if (taps == 9 && channels == 1)                                        \
                    im2col_window_##T(at, tap, 9, out, 1);                             \
                else                                                                   \
                    im2col_window_##T(at, tap, taps, out, channels);                   \
            }                                                                          \
        }                                                                              \
    }
DEFINE_IM2COL(float)
DEFINE_IM2COL(double)

static void im2col_range(void *work, Py_ssize_t start, Py_ssize_t stop)
{
    const Patches *g = work;
    if (g->kind == 4) im2col_float((float *)g->grid_buf, (float *)g->cols_buf, g, start, stop);
    else im2col_double((double *)g->grid_buf, (double *)g->cols_buf, g, start, stop);
}

/* grid += every patch at the positions it was read from; tap by tap (all windows of
 * one tap, then the next), so each grid element sums its terms in tap order, as the
 * NumPy path's one strided addition per tap does */
#define DEFINE_COL2IM_ADD(T)                                                           \
    WIDEST static void col2im_add_##T(T *restrict grid, const T *restrict cols,        \
                                      const Patches *g, Py_ssize_t start, Py_ssize_t stop) \
    {                                                                                  \
        Py_ssize_t step[4], channels = g->grid[4];                                     \
        grid_steps(g->grid, step);                                                     \
        const Py_ssize_t *n = g->cols;                                                 \
        const Py_ssize_t taps = n[4] * n[5] * n[6], windows = n[1] * n[2] * n[3];      \
        for (Py_ssize_t b = start; b < stop; b++)                                      \
        for (Py_ssize_t a = 0; a < n[4]; a++)                                          \
        for (Py_ssize_t e = 0; e < n[5]; e++)                                          \
        for (Py_ssize_t f = 0; f < n[6]; f++) {                                        \
            const T *patch = cols + (b * windows * taps + (a * n[5] + e) * n[6] + f) * channels; \
            for (Py_ssize_t i = 0; i < n[1]; i++)                                      \
            for (Py_ssize_t j = 0; j < n[2]; j++)                                      \
            for (Py_ssize_t l = 0; l < n[3]; l++, patch += taps * channels) {          \
                T *to = grid + PATCH_AT(g, step, b, i, j, l, a, e, f);                 \
                for (Py_ssize_t c = 0; c < channels; c++) to[c] += patch[c];           \
            }                                                                          \
        }                                                                              \
    }
DEFINE_COL2IM_ADD(float)
DEFINE_COL2IM_ADD(double)

/* over the batch on several threads when large: the patches of one batch entry add
 * only into its own grid */
static void col2im_add_range(void *work, Py_ssize_t start, Py_ssize_t stop)
{
    const Patches *g = work;
    /* the arrays as restrict parameters: GCC honours restrict there, so the loops need
     * not reload the geometry after every store */
    if (g->kind == 4) col2im_add_float((float *)g->grid_buf, (float *)g->cols_buf, g, start, stop);
    else col2im_add_double((double *)g->grid_buf, (double *)g->cols_buf, g, start, stop);
}

/* Parse (grid, cols, fd, fh, fw, sd, sh, sw, dd, dh, dw), check that the patches fit the
 * grid and run f over the batch (by_batch) or over the rows of windows without the GIL;
 * `writable`: bit 0 the grid, bit 1 the cols. */
static PyObject *call_patches(PyObject *args, const char *format, unsigned writable,
                              int by_batch, RangeKernel f)
{
    PyObject *objs[2];
    Patches g;
    if (!PyArg_ParseTuple(args, format, &objs[0], &objs[1], &g.first[0], &g.first[1],
                          &g.first[2], &g.stride[0], &g.stride[1], &g.stride[2],
                          &g.dilation[0], &g.dilation[1], &g.dilation[2]))
        return NULL;
    Array arrays[2];
    memset(arrays, 0, sizeof arrays);
    int kind = 0;
    if (acquire(objs[0], &arrays[0], writable & 1u, "grid", &kind) < 0) goto fail;
    if (acquire(objs[1], &arrays[1], (writable >> 1) & 1u, "cols", &kind) < 0) goto fail;
    if (check_patches(&arrays[0], &arrays[1], &g) < 0) goto fail;
    g.grid_buf = arrays[0].view.buf;
    g.cols_buf = arrays[1].view.buf;
    g.kind = kind;
    const Py_ssize_t taps = g.cols[4] * g.cols[5] * g.cols[6];
    g.tap = PyMem_Malloc((taps ? taps : 1) * sizeof(Py_ssize_t));
    if (!g.tap) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_ssize_t step[4], *tap = g.tap;
    grid_steps(g.grid, step);
    tap[0] = 0;
    for (Py_ssize_t a = 0; a < g.cols[4]; a++)
        for (Py_ssize_t e = 0; e < g.cols[5]; e++)
            for (Py_ssize_t f = 0; f < g.cols[6]; f++)
                *tap++ = PATCH_AT(&g, step, 0, 0, 0, 0, a, e, f);
    const Py_ssize_t items = by_batch ? g.cols[0] : g.cols[0] * g.cols[1] * g.cols[2];
    const Py_ssize_t elements = arrays[1].view.len / kind;
    Py_BEGIN_ALLOW_THREADS
    parallel_for(items, items ? elements / items : 0, f, &g);
    Py_END_ALLOW_THREADS
    PyMem_Free(g.tap);
    release(arrays, 2);
    Py_RETURN_NONE;
fail:
    release(arrays, 2);
    return NULL;
}

/* im2col(grid, cols, fd, fh, fw, sd, sh, sw, dd, dh, dw): cols = the patches of grid */
static PyObject *im2col(PyObject *self, PyObject *args)
{
    return call_patches(args, "OOnnnnnnnnn:im2col", 2u, 0, im2col_range);
}

/* col2im_add(grid, cols, fd, fh, fw, sd, sh, sw, dd, dh, dw): grid += the patches */
static PyObject *col2im_add(PyObject *self, PyObject *args)
{
    return call_patches(args, "OOnnnnnnnnn:col2im_add", 1u, 1, col2im_add_range);
}

static PyMethodDef methods[] = {
    {"set_threads", set_threads, METH_VARARGS,
     "set_threads(n): the threads a large kernel call may use (default 1)."},
    {"adam", adam, METH_VARARGS,
     "adam(v, g, m, vel, vel_hat_or_None, alpha, beta_1, beta_2, epsilon): one Adam step "
     "in place (AMSGrad when vel_hat is given)."},
    {"sgd", sgd, METH_VARARGS,
     "sgd(v, g, m_or_None, lr, momentum, nesterov): one SGD step in place."},
    {"all_finite", all_finite, METH_VARARGS,
     "all_finite(a): whether no element of a is infinite or NaN."},
    {"bias_relu", bias_relu, METH_VARARGS,
     "bias_relu(z, bias): z = max(z + bias, 0) in place; z (rows, units), bias (units,)."},
    {"relu_grad", relu_grad, METH_VARARGS,
     "relu_grad(dy, y, out): out = dy where y > 0, else 0."},
    {"row_max", row_max, METH_VARARGS,
     "row_max(z, out): out = the max over the last axis of z, one value per row."},
    {"scatter_add_rows", scatter_add_rows, METH_VARARGS,
     "scatter_add_rows(table, ids, rows): table[ids[i]] += rows[i], repeated ids added."},
    {"lstm_step", lstm_step, METH_VARARGS,
     "lstm_step(gates, xw, c_prev, c, tanh_c, h): one LSTM step on batch-first rows; "
     "gates holds h_prev @ recurrent_kernel on entry, the activated gates i, f, c, o on exit."},
    {"lstm_step_backward", lstm_step_backward, METH_VARARGS,
     "lstm_step_backward(gates, dgates, c_prev, tanh_c, dh, dc): dgates = dL/d(gate "
     "pre-activations); dc: dL/dc_t on entry, dL/dc_{t-1} on exit."},
    {"gru_step", gru_step, METH_VARARGS,
     "gru_step(gates, inner, xw, h_prev, h): one GRU step (reset gate after the recurrent "
     "product); inner = h_prev @ recurrent_kernel + recurrent bias."},
    {"gru_step_backward", gru_step_backward, METH_VARARGS,
     "gru_step_backward(gates, inner, dxw, dinner, h_prev, dh): dxw, dinner = dL/d(input "
     "part), dL/d(inner); dh: dL/dh_t on entry, its direct part z * dh on exit."},
    {"softmax_rows", softmax_rows, METH_VARARGS,
     "softmax_rows(z): the softmax over the last axis of z, in place (a row of -inf: zeros)."},
    {"softmax_rows_backward", softmax_rows_backward, METH_VARARGS,
     "softmax_rows_backward(p, dp): dp = p * (dp - sum(dp * p)) over the last axis."},
    {"max_pool", max_pool, METH_VARARGS,
     "max_pool(x, y, offsets, kd, kh, kw): each window's max and first argmax (uint8)."},
    {"max_pool_grad", max_pool_grad, METH_VARARGS,
     "max_pool_grad(dy, offsets, dx, kd, kh, kw): dy at each window's argmax, 0 elsewhere."},
    {"im2col", im2col, METH_VARARGS,
     "im2col(grid, cols, fd, fh, fw, sd, sh, sw, dd, dh, dw): cols = the patches of grid."},
    {"col2im_add", col2im_add, METH_VARARGS,
     "col2im_add(grid, cols, fd, fh, fw, sd, sh, sw, dd, dh, dw): grid += the patches."},
    {"layer_norm_rows", layer_norm_rows, METH_VARARGS,
     "layer_norm_rows(x, gamma, beta, epsilon, y, mean, inv): y = (x - mean) * inv * gamma + "
     "beta over the last axis of x, inv = 1 / sqrt(var + epsilon); each row's mean and inv "
     "written."},
    {"layer_norm_rows_backward", layer_norm_rows_backward, METH_VARARGS,
     "layer_norm_rows_backward(dy, x, mean, inv, gamma, dx_or_None, dgamma, dbeta): the "
     "gradients of layer_norm_rows (dgamma and dbeta written, not added)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "One-pass elementwise kernels for the training step (float32 and float64).", -1, methods,
};

PyMODINIT_FUNC PyInit__kernels(void)
{
#ifndef _WIN32
    pthread_atfork(NULL, NULL, forget_workers);
#endif
    return PyModule_Create(&module);
}
