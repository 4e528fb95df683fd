/* Load-time fusion: elementwise ops become steps of the op that produces
 * their input.
 *
 * A convolution followed by bias, residual add and activation then writes
 * each output tile once and finishes it while it is in cache, instead of
 * four passes over a tensor in memory.  An elementwise node N is fused into
 * the producer P of its main input x when P takes steps, x is read by N alone
 * and is no graph output.  N's other operands (a residual tensor, a gate
 * vector) become inputs of P, so the planner keeps them alive until P runs
 * and the re-sort schedules P after them; no cycle can form because those
 * operands could not depend on x (x had no other reader).
 *
 * Before that, MobileNetV3's hard-swish, exported as four nodes
 * (Mul(c, x), AddV2(x, 3), Relu6, Mul), is recognised and made one step.
 */
#include "nn/graph.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int uses(const nn_model *m, const nn_tensor *t)
{
    int count = 0;
    for (int i = 0; i < m->n_exec; i++) {
        const nn_node *n = m->exec[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_inputs; k++)
            count += n->inputs[k] == t;
    }
    return count;
}

static int is_output(const nn_model *m, const nn_tensor *t)
{
    for (int i = 0; i < m->n_outputs; i++)
        if (nn_tensor_root(m->output[i]) == t || m->output[i] == t) return 1;
    return 0;
}

static int is_step_node(const nn_node *n)
{
    return n && !n->dead && n->op->run == nn_elementwise_run;
}

/* A step node whose only step is kind (with a scalar operand equal to value
 * when check_scalar). */
static int single_step(const nn_node *n, nn_step_kind kind, int check_scalar, float value)
{
    if (!is_step_node(n) || n->n_steps != 1 || n->steps[0].kind != kind) return 0;
    if (check_scalar)
        return n->steps[0].operand == NN_OPERAND_SCALAR && n->steps[0].scalar == value;
    return 1;
}

static int private_tensor(const nn_model *m, const nn_tensor *t, int readers)
{
    return uses(m, t) == readers && !is_output(m, t);
}

static void fuse_hardswish(nn_model *m)
{
    for (int i = 0; i < m->n_exec; i++) {
        nn_node *y = m->exec[i];
        if (!single_step(y, NN_STEP_MUL, 0, 0) || y->steps[0].operand != NN_OPERAND_FULL) continue;
        for (int swap = 0; swap < 2; swap++) {
            nn_tensor *a = y->inputs[swap], *b = y->inputs[1 - swap];
            nn_node *relu6 = b->producer;
            nn_node *scaled = a->producer;
            if (!single_step(relu6, NN_STEP_RELU6, 0, 0) ||
                !single_step(scaled, NN_STEP_MUL, 0, 0) ||
                scaled->steps[0].operand != NN_OPERAND_SCALAR)
                continue;
            nn_node *plus3 = relu6->inputs[0]->producer;
            if (!single_step(plus3, NN_STEP_ADD, 1, 3.0f)) continue;
            nn_tensor *x = plus3->inputs[0];
            if (scaled->inputs[0] != x || !private_tensor(m, x, 2) || !private_tensor(m, a, 1) ||
                !private_tensor(m, b, 1) || !private_tensor(m, relu6->inputs[0], 1))
                continue;
            y->steps[0] = (nn_step){.kind = NN_STEP_HARDSWISH,
                                    .operand = NN_OPERAND_SCALAR,
                                    .scalar = scaled->steps[0].scalar};
            y->inputs[0] = x;
            y->n_inputs = y->n_op_inputs = 1;
            relu6->dead = scaled->dead = plus3->dead = 1;
            break;
        }
    }
}

static int fusable_into_producer(const nn_model *m, const nn_node *n, const nn_tensor *x)
{
    const nn_node *p = x->producer;
    return p && !p->dead && p->op->takes_steps && private_tensor(m, x, 1) &&
           p->n_steps + n->n_steps <= NN_MAX_STEPS;
}

static void fuse_into_producers(nn_model *m)
{
    for (int i = 0; i < m->n_exec; i++) {
        nn_node *n = m->exec[i];
        if (!is_step_node(n)) continue;
        /* Commutative steps may run on either input: take the one whose
         * producer can absorb them (a residual add after a convolution). */
        const nn_step_kind k0 = n->steps[0].kind;
        if (n->n_steps == 1 && n->steps[0].operand == NN_OPERAND_FULL && n->n_inputs == 2 &&
            (k0 == NN_STEP_ADD || k0 == NN_STEP_MUL || k0 == NN_STEP_MIN || k0 == NN_STEP_MAX) &&
            !fusable_into_producer(m, n, n->inputs[0]) &&
            fusable_into_producer(m, n, n->inputs[1])) {
            nn_tensor *tmp = n->inputs[0];
            n->inputs[0] = n->inputs[1];
            n->inputs[1] = tmp;
            n->steps[0].tensor = tmp;
        }
        nn_tensor *x = n->inputs[0];
        nn_node *p = x->producer;
        if (!p || p->dead || !p->op->takes_steps || !private_tensor(m, x, 1)) continue;
        if (x->size != n->output->size || p->n_steps + n->n_steps > NN_MAX_STEPS) continue;
        int extra = 0;
        for (int k = 1; k < n->n_inputs; k++)
            extra += !n->inputs[k]->is_const;
        if (p->n_inputs + extra > NN_MAX_INPUTS) continue;
        for (int k = 0; k < n->n_steps; k++)
            p->steps[p->n_steps++] = n->steps[k];
        for (int k = 1; k < n->n_inputs; k++)
            if (!n->inputs[k]->is_const) p->inputs[p->n_inputs++] = n->inputs[k];
        p->output = n->output;
        n->output->producer = p;
        n->dead = 1;
    }
}

int nn_graph_fuse(nn_model *m)
{
    if (getenv("NN_NO_FUSE")) return 0; /* debugging aid: compare fused and unfused results */
    fuse_hardswish(m);
    fuse_into_producers(m);
    return 0;
}
