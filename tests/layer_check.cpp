// Linked with every object of one layer library and only the layers below it (see
// CMakeLists.txt): the link fails if the layer calls into a layer above.
int main() { return 0; }
