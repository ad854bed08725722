/** A user as this subgraph knows it: only the key. Identity owns the user itself. */
export interface UserReference {
  id: string;
}
