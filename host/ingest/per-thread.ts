/** A list for each thread, made when first asked for: the calls a thread has open, innermost last. */
export class PerThread<T> {
  private readonly lists = new Map<number, T[]>();

  of(tid: number): T[] {
    let list = this.lists.get(tid);
    if (!list) this.lists.set(tid, (list = []));
    return list;
  }
}
