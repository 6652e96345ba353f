import { Body, Controller, Get, Headers, NotFoundException, Param, Patch, Post, UseInterceptors } from "@nestjs/common";
import { InjectRepository } from "@nestjs/typeorm";
import type { Repository } from "typeorm";
import { ModelSerializer } from "../../src";
import { assertIfMatch, EntityTagInterceptor } from "../../src/nestjs";
import { Note } from "./note.entity";

/**
 * Edits without lost updates: GET answers carry `ETag: "<version>"`; a PATCH sends it back in `If-Match` (412 when
 * the note moved on) or a `version` in its body (409); two PATCHes racing past both checks still cannot both win
 * (the save is version-checked: 409).
 */
@Controller("notes")
@UseInterceptors(EntityTagInterceptor)
export class NotesController {
  constructor(@InjectRepository(Note) private readonly notes: Repository<Note>) {}

  @Post()
  create(@Body() body: unknown): Promise<Note> {
    return this.notes.save(ModelSerializer.fromDict(Note, body));
  }

  @Get(":id")
  get(@Param("id") id: string): Promise<Note> {
    return this.#load(id);
  }

  @Patch(":id")
  async update(
    @Param("id") id: string,
    @Headers("if-match") ifMatch: string | undefined,
    @Body() body: unknown,
  ): Promise<Note> {
    const note = await this.#load(id);
    assertIfMatch(ifMatch, note);
    return this.notes.save(ModelSerializer.updateFromDict(note, body));
  }

  async #load(id: string): Promise<Note> {
    const note = await this.notes.findOneBy({ id });
    if (!note) throw new NotFoundException(`no note ${id}`);
    return note;
  }
}
