/* The "fused_ops" attribute of Grappler-fused nodes (_FusedConv2D,
 * FusedDepthwiseConv2dNative, _FusedMatMul) turned into steps: BiasAdd takes
 * extra input 0, Prelu the next one; activations take none. */
#include "nn/ops/fused_ops.h"

#include <string.h>

int nn_fused_ops_to_steps(nn_model *model, nn_node *node, int first_arg, int channels)
{
    int n = nn_attr_string_list(node, "fused_ops", 0, NULL, 0);
    int arg = first_arg;
    for (int i = 0; i < n; i++) {
        char name[64];
        if (nn_attr_string_list(node, "fused_ops", i, name, sizeof name) < 0)
            return nn_node_error(model, node, "bad fused_ops attribute");
        if (node->n_steps == NN_MAX_STEPS) return nn_node_error(model, node, "too many fused ops");
        nn_step *step = &node->steps[node->n_steps];
        *step = (nn_step){.operand = NN_OPERAND_NONE};
        if (strcmp(name, "BiasAdd") == 0 || strcmp(name, "Prelu") == 0) {
            if (arg >= node->n_op_inputs)
                return nn_node_error(model, node, "%s lacks its argument", name);
            nn_tensor *t = node->inputs[arg++];
            if (!t->is_const || t->dtype != NN_F32 || t->size != (size_t)channels)
                return nn_node_error(model, node, "%s needs a constant of %d values", name,
                                     channels);
            step->kind = name[0] == 'B' ? NN_STEP_ADD : NN_STEP_PRELU;
            step->operand = NN_OPERAND_CHANNEL;
            step->tensor = t;
        } else if (strcmp(name, "Relu") == 0) {
            step->kind = NN_STEP_RELU;
        } else if (strcmp(name, "Relu6") == 0) {
            step->kind = NN_STEP_RELU6;
        } else if (strcmp(name, "Sigmoid") == 0) {
            step->kind = NN_STEP_SIGMOID;
        } else {
            return nn_node_error(model, node, "fused op %s is not supported", name);
        }
        node->n_steps++;
    }
    return 0;
}
