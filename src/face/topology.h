/* Named FaceMesh point sets (MediaPipe's face mesh topology), for regions,
 * landmarks and the Iris model's mapping.  Facts of the model, listed in
 * ALGORITHMS.md §1.7 and MediaPipe's face_mesh_connections / the human
 * library's facemeshcoords; subject-relative left/right (face/face.h).
 */
#ifndef RT_FACE_TOPOLOGY_H
#define RT_FACE_TOPOLOGY_H

typedef struct rt_index_list {
    const short *idx;
    int n;
} rt_index_list;

/* Closed outlines, in order around the region. */
extern const rt_index_list rt_topo_face_oval;
extern const rt_index_list rt_topo_lips_outer;
extern const rt_index_list rt_topo_lips_inner;
extern const rt_index_list rt_topo_eye[2];      /* lid margins, RT_EYE_RIGHT / RT_EYE_LEFT */
extern const rt_index_list rt_topo_brow[2];     /* upper edge then lower edge back */
extern const rt_index_list rt_topo_nostrils[2]; /* each nostril's opening and wing base */

/* Single points */
enum {
    RT_MESH_NOSE_TIP = 1,
    RT_MESH_UPPER_LIP_TOP = 0,    /* top of the upper lip's vermilion, centre */
    RT_MESH_UPPER_LIP_INNER = 13, /* upper lip's lower (inner) edge, centre */
    RT_MESH_LOWER_LIP_INNER = 14,
    RT_MESH_MOUTH_RIGHT = 61, /* mouth corners */
    RT_MESH_MOUTH_LEFT = 291,
    RT_MESH_CHIN = 152,
    RT_MESH_FOREHEAD_TOP = 10,
    RT_MESH_GLABELLA = 9, /* between the brows, the "bindi" point */
    RT_MESH_BETWEEN_EYES = 168,
    RT_MESH_RIGHT_EYE_OUTER = 33,
    RT_MESH_RIGHT_EYE_INNER = 133,
    RT_MESH_LEFT_EYE_OUTER = 263,
    RT_MESH_LEFT_EYE_INNER = 362,
    RT_MESH_RIGHT_IRIS = 468, /* centre; 469-472 ring */
    RT_MESH_LEFT_IRIS = 473,  /* centre; 474-477 ring */
};

/* Each FaceMesh point's mirror partner (left/right swapped, midline points
 * map to themselves): rt_mesh_mirror[rt_mesh_mirror[i]] == i. */
extern const short rt_mesh_mirror[468];

/* The Iris model's 71 eye points and the FaceMesh points they refine: for
 * each eye, pairs (iris model index, mesh index) of its lid and eye-socket
 * contours (EyeUpper0-2, EyeLower0-3). */
typedef struct rt_iris_mesh_pair {
    unsigned char iris;
    short mesh;
} rt_iris_mesh_pair;

#define RT_IRIS_MESH_PAIRS 57
#define RT_IRIS_LID_PAIRS 16 /* the first 16 pairs: EyeLower0 then EyeUpper0 (the lid margins) */
extern const rt_iris_mesh_pair rt_iris_mesh_map[2][RT_IRIS_MESH_PAIRS];

#endif
